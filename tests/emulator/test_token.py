"""The token endpoint: code exchange with PKCE, refresh rotation, and every documented refusal."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.emulator.emulator_helpers import REDIRECT_URI, OAuthWalker

from tiktok.emulator import EmulatorConfig

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"


def fp(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def code_for(walker: OAuthWalker, verifier: str, challenge: str) -> str:
    callback = walker.consent(walker.params(code_challenge=challenge))
    walker.verifier = verifier
    return callback.query["code"]


def assert_oauth_error(response, error: str, status: int = 400, description: str | None = None) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"] == error
    assert len(body["log_id"]) == 32
    if description is not None:
        assert body["error_description"] == description


def test_code_exchange_with_hex_pkce(walker):
    challenge = hashlib.sha256(RFC7636_VERIFIER.encode()).hexdigest()
    code = code_for(walker, RFC7636_VERIFIER, challenge)
    response = walker.exchange(code)
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert set(body) == {"access_token", "expires_in", "open_id", "refresh_expires_in", "refresh_token",
                         "scope", "token_type"}
    assert body["access_token"].startswith("act.") and body["refresh_token"].startswith("rft.")
    assert (body["expires_in"], body["refresh_expires_in"]) == (7200, 15_552_000)
    assert body["open_id"] == ADA
    assert body["scope"] == "user.info.basic,user.info.profile"
    assert body["token_type"] == "Bearer"


def test_base64url_config_accepts_rfc7636_challenge(make_emulator):
    walker = OAuthWalker(make_emulator(pkce_encoding="base64url"))
    code = code_for(walker, RFC7636_VERIFIER, RFC7636_CHALLENGE)
    assert walker.exchange(code).status_code == 200


def test_hex_config_rejects_rfc7636_challenge_at_token_exchange(walker):
    code = code_for(walker, RFC7636_VERIFIER, RFC7636_CHALLENGE)  # the authorize page let it through
    assert_oauth_error(walker.exchange(code), "invalid_request",
                       description="Code verifier or code challenge is invalid.")


@pytest.mark.parametrize("verifier", [None, "", "x" * 43, "a" * 42, "a" * 129, "a" * 42 + "!"])
def test_wrong_or_malformed_code_verifier(walker, verifier):
    callback = walker.consent(walker.params())
    assert_oauth_error(walker.exchange(callback.query["code"], code_verifier=verifier), "invalid_request",
                       description="Code verifier or code challenge is invalid.")


def test_wrong_client_secret_is_invalid_client_and_leaves_code_usable(walker):
    code = walker.consent(walker.params()).query["code"]
    assert_oauth_error(walker.exchange(code, client_secret="wrong"), "invalid_client", status=401)
    assert_oauth_error(walker.exchange(code, client_key="other-key"), "invalid_client", status=401)
    assert walker.exchange(code).status_code == 200


def test_code_is_single_use(walker):
    code = walker.consent(walker.params()).query["code"]
    assert walker.exchange(code).status_code == 200
    assert_oauth_error(walker.exchange(code), "invalid_grant")


def test_failed_attempt_still_consumes_the_code(walker):
    code = walker.consent(walker.params()).query["code"]
    good_verifier = walker.verifier
    assert walker.exchange(code, code_verifier="b" * 64).status_code == 400
    assert_oauth_error(walker.exchange(code, code_verifier=good_verifier), "invalid_grant")


def test_expired_code(walker, remote):
    code = walker.consent(walker.params()).query["code"]
    remote.advance_clock(600)
    assert_oauth_error(walker.exchange(code), "invalid_grant")


def test_code_just_before_expiry_works(walker, remote):
    code = walker.consent(walker.params()).query["code"]
    remote.advance_clock(590)
    assert walker.exchange(code).status_code == 200


def test_unknown_and_still_encoded_codes(walker):
    code = walker.consent(walker.params()).query["code"]
    encoded = code.replace("*", "%2A").replace("!", "%21")  # a client that forgot to URL-decode
    assert_oauth_error(walker.exchange(encoded), "invalid_grant")
    assert_oauth_error(walker.exchange("made-up-code"), "invalid_grant")


def test_redirect_uri_must_be_byte_identical(walker):
    code = walker.consent(walker.params()).query["code"]
    assert_oauth_error(walker.exchange(code, redirect_uri=REDIRECT_URI.rstrip("/")), "invalid_request",
                       description="Redirect_uri is not matched with the uri when requesting code.")


def test_json_body_is_malformed(walker):
    code = walker.consent(walker.params()).query["code"]
    body = {"client_key": walker.config.client_key, "client_secret": walker.config.client_secret, "code": code,
            "grant_type": "authorization_code", "redirect_uri": REDIRECT_URI, "code_verifier": walker.verifier}
    response = walker.http.post(walker.url + "/v2/oauth/token/", json=body, timeout=10)
    assert_oauth_error(response, "invalid_request", description="The request parameters are malformed.")
    assert walker.exchange(code).status_code == 200  # the malformed attempt did not consume it


def test_params_in_query_string_are_not_read(walker):
    code = walker.consent(walker.params()).query["code"]
    params = {"client_key": walker.config.client_key, "client_secret": walker.config.client_secret,
              "code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
    response = walker.http.post(walker.url + "/v2/oauth/token/", params=params, data={"x": "1"}, timeout=10)
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("missing", ["client_key", "client_secret", "grant_type", "code", "redirect_uri"])
def test_missing_parameter_is_named(walker, missing):
    code = walker.consent(walker.params()).query["code"]
    response = walker.exchange(None, **{"code": code, missing: None})
    assert_oauth_error(response, "invalid_request")
    assert missing in response.json()["error_description"]


def test_unsupported_grant_type(walker):
    assert_oauth_error(walker.exchange("x", grant_type="client_credentials_v3"), "unsupported_grant_type")


def test_refresh_rotates_and_the_old_token_dies(walker, remote):
    first = walker.login()
    remote.advance_clock(100)
    response = walker.refresh(first["refresh_token"])
    second = response.json()
    assert response.status_code == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 7200
    assert second["refresh_expires_in"] == 15_552_000 - 100  # deadline fixed from first issuance
    assert second["scope"] == first["scope"] and second["open_id"] == first["open_id"]
    assert_oauth_error(walker.refresh(first["refresh_token"]), "invalid_grant")
    assert_oauth_error(walker.refresh(first["refresh_token"]), "invalid_grant")
    tokens = remote.state()["tokens"]
    assert tokens["dead_refresh_token_uses"] == 2
    assert (tokens["issued"], tokens["rotated"]) == (2, 1)
    grant = tokens["grants"][0]
    assert grant["refresh_token_sha256"] == fp(second["refresh_token"])
    assert grant["rotations"] == 1 and grant["access_tokens_live"] == 2  # the older access token still lives
    assert walker.user_info(first["access_token"]).status_code == 200
    assert walker.refresh(second["refresh_token"]).status_code == 200


def test_refresh_can_extend_the_deadline(make_emulator):
    walker = OAuthWalker(make_emulator(refresh_extends_deadline=True))
    first = walker.login()
    walker.server.state.advance(100)
    assert walker.refresh(first["refresh_token"]).json()["refresh_expires_in"] == 15_552_000


def test_legacy_lifetimes(make_emulator):
    walker = OAuthWalker(make_emulator(EmulatorConfig.legacy()))
    body = walker.login()
    assert (body["expires_in"], body["refresh_expires_in"]) == (86400, 31_536_000)


def test_expired_refresh_token(walker, remote):
    body = walker.login()
    remote.advance_clock(15_552_000)
    assert_oauth_error(walker.refresh(body["refresh_token"]), "invalid_grant")
    assert remote.state()["tokens"]["grants"][0]["status"] == "expired"


def test_refresh_with_other_client_or_unknown_token(walker):
    body = walker.login()
    assert_oauth_error(walker.refresh(body["refresh_token"], client_secret="nope"), "invalid_client", 401)
    assert_oauth_error(walker.refresh("rft.not-a-real-token"), "invalid_grant")
    assert walker.refresh(body["refresh_token"]).status_code == 200


def test_grant_keeps_only_the_scopes_the_user_ticked(walker):
    callback = walker.consent(walker.params(scope="user.info.basic,user.info.stats,video.list"),
                              untick=("user.info.stats",))
    body = walker.exchange(callback.query["code"]).json()
    assert body["scope"] == "user.info.basic,video.list"


def test_concurrent_refreshes_with_one_token_let_exactly_one_win(walker, remote):
    body = walker.login()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: OAuthWalker(walker.server).refresh(body["refresh_token"]).status_code,
                                 range(8)))
    assert sorted(statuses) == [200] + [400] * 7
    tokens = remote.state()["tokens"]
    assert (tokens["rotated"], tokens["dead_refresh_token_uses"]) == (1, 7)
