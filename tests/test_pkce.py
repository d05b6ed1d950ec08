import pytest

from tiktok.auth.oauth import build_authorize_url, split_scopes
from tiktok.auth.pkce import code_challenge, is_valid_verifier, make_verifier

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # its base64url S256 answer
# The same SHA-256 digest in lowercase hex, as TikTok's desktop Login Kit wants it.
HEX_CHALLENGE = "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3"


def test_base64url_challenge_matches_rfc7636_appendix_b():
    assert code_challenge(RFC7636_VERIFIER, "base64url") == RFC7636_CHALLENGE


def test_hex_challenge_is_the_lowercase_hex_digest():
    assert code_challenge(RFC7636_VERIFIER, "hex") == HEX_CHALLENGE
    assert code_challenge(RFC7636_VERIFIER) == HEX_CHALLENGE  # hex is the default


def test_verifiers_are_fresh_and_valid():
    verifiers = {make_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(is_valid_verifier(v) and len(v) == 64 for v in verifiers)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 50 + " ", "ä" * 43, "a" * 42 + "+",
                                      RFC7636_VERIFIER + "\n", "\n" + RFC7636_VERIFIER, RFC7636_VERIFIER + "\r\n"])
def test_invalid_verifiers_are_refused(verifier):
    assert not is_valid_verifier(verifier)
    with pytest.raises(ValueError):
        code_challenge(verifier)


def test_unknown_encoding_is_refused():
    with pytest.raises(ValueError, match="hex, base64url"):
        code_challenge(RFC7636_VERIFIER, "base32")  # type: ignore[arg-type]


def test_authorize_url_uses_tiktok_parameter_names():
    url = build_authorize_url("https://www.tiktok.com/v2/auth/authorize/", client_key="ck",
                              scopes=["user.info.basic", "video.publish"], redirect_uri="http://127.0.0.1:8000/callback/",
                              state="s t", code_challenge=HEX_CHALLENGE)
    assert url.startswith("https://www.tiktok.com/v2/auth/authorize/?client_key=ck&")
    assert "scope=user.info.basic%2Cvideo.publish" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcallback%2F" in url
    assert "state=s+t" in url and "response_type=code" in url
    assert f"code_challenge={HEX_CHALLENGE}&code_challenge_method=S256" in url
    assert "client_id" not in url


def test_split_scopes():
    assert split_scopes("user.info.basic, video.list,,") == ("user.info.basic", "video.list")
    assert split_scopes(None) == ()
