"""errors.py: the drawn tree matches the real classes, envelopes map to the right error, config fails clearly."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import tiktok
from tiktok import errors
from tiktok.config import load_settings
from tiktok.errors import (
    APIError, AuthError, ConfigError, InvalidRequest, PostingRefused, RateLimited, ScopeError, ServerError,
    TikTokError, error_from_envelope,
)

TREE_LINE = re.compile(r"^    (?P<indent>[│ ]*)(?:├── |└── )?(?P<name>[A-Za-z]\w+)\b")


def drawn_tree() -> dict[str, str | None]:
    """class name -> parent name, read from the box drawing in errors.py's docstring."""
    lines = errors.__doc__.split("    TikTokError\n", 1)[1].split("\n\n", 1)[0].splitlines()
    parents: dict[str, str | None] = {"TikTokError": None}
    stack = ["TikTokError"]  # stack[depth] is the latest class seen at that depth
    for line in lines:
        match = TREE_LINE.match(line)
        assert match, f"unreadable tree line: {line!r}"
        depth = len(match["indent"]) // 4 + 1
        del stack[depth:]
        parents[match["name"]] = stack[depth - 1]
        stack.append(match["name"])
    return parents


def every_client_error() -> dict[str, str]:
    """Every TikTokError subclass defined in the client packages -> its direct parent's name."""
    for module in pkgutil.walk_packages(tiktok.__path__, "tiktok."):
        if not module.name.startswith("tiktok.emulator") and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: dict[str, str] = {}
    pending = [TikTokError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("tiktok.") and not sub.__module__.startswith("tiktok.emulator"):
                found[sub.__name__] = cls.__name__
            pending.append(sub)
    return found


def test_the_docstring_draws_every_error_class_under_its_real_parent() -> None:
    drawn = drawn_tree()
    real = {name: parent for name, parent in every_client_error().items() if not name.startswith("_")}
    assert len(real) > 40
    assert {name: drawn.get(name) for name in real} == real
    assert set(drawn) - set(real) == {"TikTokError"}  # nothing drawn that does not exist


def test_private_helpers_are_named_outside_the_tree() -> None:
    private = [name for name in every_client_error() if name.startswith("_")]
    assert private and all(f"_{name.lstrip('_')}" in errors.__doc__ for name in private)


def envelope(code: str, message: str = "m", log_id: str | None = "L1") -> dict:
    return {"data": {}, "error": {"code": code, "message": message, **({"log_id": log_id} if log_id else {})}}


@pytest.mark.parametrize("http_status, body, retry_after, cls, transient", [
    (200, envelope("access_token_invalid"), None, AuthError, False),
    (401, envelope("scope_not_authorized"), None, ScopeError, False),
    (401, envelope("scope_permission_missed"), None, ScopeError, False),
    (429, envelope("rate_limit_exceeded"), "7", RateLimited, True),
    (400, envelope("invalid_param"), None, InvalidRequest, False),
    (400, envelope("invalid_params"), None, InvalidRequest, False),
    (200, envelope("spam_risk_too_many_posts"), None, PostingRefused, False),      # a refusal with HTTP 200
    (403, envelope("privacy_level_option_mismatch"), None, PostingRefused, False),
    (403, envelope("url_ownership_unverified"), None, PostingRefused, False),
    (500, envelope("internal_error"), None, ServerError, True),
    (429, envelope("something_new"), None, RateLimited, True),                      # unknown codes: by status
    (503, envelope("something_new"), None, ServerError, True),
    (401, envelope("something_new"), None, AuthError, False),
    (403, envelope("something_new"), None, PostingRefused, False),
    (418, envelope("something_new"), None, InvalidRequest, False),
    (200, {"data": {}}, None, ServerError, True),                                   # no envelope at all
    (502, "<html>bad gateway</html>", None, ServerError, True),
    (200, {"error": {"code": 5}}, None, ServerError, True),
])
def test_error_from_envelope(http_status: int, body: object, retry_after: str | None, cls: type[APIError],
                             transient: bool) -> None:
    error = error_from_envelope(http_status, body, retry_after)
    assert type(error) is cls and error.transient is transient
    assert error.http_status == http_status
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("log_id"):
        assert str(error).endswith("(log_id L1)")


def test_ok_is_success_whatever_the_status() -> None:
    assert error_from_envelope(200, envelope("ok")) is None
    assert error_from_envelope(200, {"data": {}, "error": {"code": "ok", "logid": "x"}}) is None


@pytest.mark.parametrize("retry_after, seconds", [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), (None, None)])
def test_rate_limit_carries_retry_after(retry_after: str | None, seconds: float | None) -> None:
    error = error_from_envelope(429, envelope("rate_limit_exceeded"), retry_after)
    assert isinstance(error, RateLimited) and error.retry_after == seconds


@pytest.mark.parametrize("env, needle", [
    ({"TIKTOK_CLIENT_KEY": "ck"}, "TIKTOK_CLIENT_SECRET is empty"),
    ({"TIKTOK_CLIENT_KEY": "ck", "TIKTOK_CLIENT_SECRET": "  "}, "TIKTOK_CLIENT_SECRET is empty"),
    ({"PORT": "eighty"}, "PORT='eighty' is not a whole number"),
    ({"PORT": "70000"}, "PORT=70000 is not a TCP port"),
    ({"TIKTOK_EMULATOR_PORT": "-1"}, "TIKTOK_EMULATOR_PORT=-1 is not a TCP port"),
    ({"TIKTOK_PKCE_ENCODING": "plain"}, "TIKTOK_PKCE_ENCODING='plain': expected one of hex, base64url"),
    ({"TIKTOK_SCOPES": "video.list"}, "TIKTOK_SCOPES must include user.info.basic"),
    ({"TIKTOK_SCOPES": " , "}, "TIKTOK_SCOPES must include user.info.basic"),
])
def test_config_error_branches(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert needle in str(caught.value)
    assert "sk-" not in str(caught.value)


@pytest.mark.parametrize("env, emulated, embedded, api_base", [
    ({}, True, True, "http://127.0.0.1:8001"),
    ({"TIKTOK_EMULATOR_PORT": "9100"}, True, True, "http://127.0.0.1:9100"),
    ({"TIKTOK_API_BASE": "http://127.0.0.1:5000/"}, True, False, "http://127.0.0.1:5000"),
    ({"TIKTOK_CLIENT_KEY": "ck", "TIKTOK_CLIENT_SECRET": "sk-secret"}, False, False, "https://open.tiktokapis.com"),
])
def test_config_modes(env: dict[str, str], emulated: bool, embedded: bool, api_base: str) -> None:
    settings = load_settings(env)
    assert (settings.emulated, settings.embedded_emulator, settings.api_base) == (emulated, embedded, api_base)
    assert "sk-secret" not in repr(settings)
