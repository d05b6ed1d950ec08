"""Pure rules: redirect URI matching, PKCE encodings, log redaction, config validation."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from tiktok.emulator import EmulatorConfig
from tiktok.emulator.logs import RedactingFilter, redact_query_secrets
from tiktok.emulator.pkce import challenge_for, is_valid_pkce_value, verifier_matches
from tiktok.emulator.redirects import is_registered, validate_registered_uri

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B


@pytest.mark.parametrize("candidate, registered, expected", [
    ("http://127.0.0.1:5000/callback/", ["http://127.0.0.1:*/callback/"], True),
    ("http://127.0.0.1:65535/callback/", ["http://127.0.0.1:*/callback/"], True),
    ("http://127.0.0.1/callback/", ["http://127.0.0.1:*/callback/"], False),        # port mandatory
    ("http://127.0.0.1:5000/callback", ["http://127.0.0.1:*/callback/"], False),    # trailing slash counts
    ("https://127.0.0.1:5000/callback/", ["http://127.0.0.1:*/callback/"], False),  # scheme
    ("http://localhost:5000/callback/", ["http://127.0.0.1:*/callback/"], False),   # host
    ("http://[::1]:5000/callback/", ["http://127.0.0.1:*/callback/"], False),
    ("http://127.0.0.1:5000/callback/?x=1", ["http://127.0.0.1:*/callback/"], False),
    ("http://127.0.0.1:5000/callback/#f", ["http://127.0.0.1:*/callback/"], False),
    ("http://u@127.0.0.1:5000/callback/", ["http://127.0.0.1:*/callback/"], False),
    ("http://localhost:3455/callback/", ["http://localhost:3455/callback/"], True),
    ("http://localhost:3456/callback/", ["http://localhost:3455/callback/"], False),
    ("https://dev.example.com/auth/callback/", ["https://dev.example.com/auth/callback/"], True),
    ("https://dev.example.com/auth/callback", ["https://dev.example.com/auth/callback/"], False),
    ("https://DEV.example.com/auth/callback/", ["https://dev.example.com/auth/callback/"], False),
    ("", ["http://127.0.0.1:*/callback/"], False),
])
def test_redirect_uri_matching(candidate, registered, expected):
    assert is_registered(candidate, registered) is expected


@pytest.mark.parametrize("uri, ok", [
    ("http://127.0.0.1:*/callback/", True),
    ("https://127.0.0.1:3455/callback/", True),
    ("http://127.0.0.1/callback/", False),            # desktop URIs need a port
    ("http://example.com/callback/", False),          # web URIs must be https
    ("https://example.com:*/callback/", False),       # wildcard only for loopback
    ("https://example.com/cb/?a=1", False),
    ("https://example.com/" + "a" * 600, False),
])
def test_registered_uri_rules(uri, ok):
    assert (validate_registered_uri(uri) is None) is ok


def test_hex_challenge_matches_hashlib():
    expected = hashlib.sha256(RFC7636_VERIFIER.encode()).hexdigest()
    assert challenge_for(RFC7636_VERIFIER, "hex") == expected
    assert verifier_matches(RFC7636_VERIFIER, expected, "hex")
    assert not verifier_matches(RFC7636_VERIFIER, expected.upper(), "hex")


def test_base64url_challenge_is_rfc7636_appendix_b():
    assert challenge_for(RFC7636_VERIFIER, "base64url") == RFC7636_CHALLENGE
    assert verifier_matches(RFC7636_VERIFIER, RFC7636_CHALLENGE, "base64url")
    assert not verifier_matches(RFC7636_VERIFIER, RFC7636_CHALLENGE, "hex")


@pytest.mark.parametrize("value, ok", [
    ("a" * 43, True), ("a" * 128, True), ("a" * 42, False), ("a" * 129, False),
    ("A-._~" + "z" * 40, True), ("a" * 42 + "+", False), ("a" * 42 + "=", False), (None, False), ("", False),
])
def test_pkce_value_shape(value, ok):
    assert is_valid_pkce_value(value) is ok


def test_uses_of_base64_and_hex_differ():
    digest = hashlib.sha256(b"x" * 43).digest()
    assert challenge_for("x" * 43, "base64url") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    with pytest.raises(ValueError):
        challenge_for("x" * 43, "base32")


@pytest.mark.parametrize("line, expected", [
    ('"GET /callback/?code=abc%2A0%21&scopes=a%2Cb&state=s1 HTTP/1.1" 302 -',
     '"GET /callback/?code=***&scopes=a%2Cb&state=*** HTTP/1.1" 302 -'),
    ("PUT /upload/?upload_id=7&upload_token=SECRET", "PUT /upload/?upload_id=7&upload_token=***"),
    ("/x?access_token=a&refresh_token=b&token=c", "/x?access_token=***&refresh_token=***&token=***"),
    ("/x?client_secret=s&code_verifier=v", "/x?client_secret=***&code_verifier=***"),
    ("/x?barcode=1&codes=2", "/x?barcode=1&codes=2"),   # only exact parameter names
    ("no query here", "no query here"),
])
def test_redact_query_secrets(line, expected):
    assert redact_query_secrets(line) == expected


def test_redacting_filter_rewrites_formatted_record():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /cb/?code=SECRETCODE HTTP/1.1", "302", "-"), None)
    assert RedactingFilter().filter(record) is True
    assert "SECRETCODE" not in record.getMessage()
    assert "code=***" in record.getMessage()


@pytest.mark.parametrize("changes", [
    {"redirect_uris": ["http://example.com/cb/"]},
    {"redirect_uris": []},
    {"approved_scopes": ["user.info.basic", "made.up"]},
    {"pkce_encoding": "plain"},
    {"access_ttl": 0},
    {"client_secret": ""},
])
def test_config_rejects_impossible_registrations(changes):
    with pytest.raises(ValueError):
        EmulatorConfig(**changes)


def test_legacy_profile_lifetimes():
    config = EmulatorConfig.legacy(client_key="k2")
    assert (config.access_ttl, config.refresh_ttl, config.client_key) == (86400, 31_536_000, "k2")
    assert sum(u.private_account for u in config.users) == 1
