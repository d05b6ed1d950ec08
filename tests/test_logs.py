"""The client's log redaction: secrets never reach a log line."""

from __future__ import annotations

import logging

import pytest

from tiktok.logs import RedactingFilter, install_redaction, redact


@pytest.mark.parametrize("line, expected", [
    ('"GET /callback/?code=abc123&state=xyz HTTP/1.1" 302', '"GET /callback/?code=***&state=*** HTTP/1.1" 302'),
    ("PUT /upload/?upload_token=t0k&x=1", "PUT /upload/?upload_token=***&x=1"),
    ("https://h/p?client_key=ck&scope=video.list", "https://h/p?client_key=***&scope=video.list"),
    ("Authorization: Bearer act.secret-value", "Authorization: Bearer ***"),
    ("header bearer abc, next", "header bearer ***, next"),
    ("GET /?codec=h264", "GET /?codec=h264"),            # a name that only starts like a secret is kept
    ("nothing secret here", "nothing secret here"),
])
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_filter_rewrites_formatted_message() -> None:
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", ("GET /?refresh_token=rft",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "GET /?refresh_token=***"


def test_install_is_idempotent() -> None:
    install_redaction("tests.logs.demo")
    install_redaction("tests.logs.demo")
    filters = [f for f in logging.getLogger("tests.logs.demo").filters if isinstance(f, RedactingFilter)]
    assert len(filters) == 1
