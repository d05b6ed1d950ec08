"""Logging set-up shared by the app and the commands: secrets masked and terminal controls escaped in every line.

werkzeug's access log and urllib3's debug log print full URLs, so the value of every secret-bearing query
parameter (code, state, upload_token, ...) is replaced by ``***``, and so is any ``Bearer`` credential and the
password in a ``postgresql://`` URL.

Text from TikTok or from files (titles, names, captions, TikTok's error messages, file names) can hold terminal
control sequences: ``ESC]0;...BEL`` sets a terminal's title, ``ESC[2J`` clears it, a bidi override reorders what
follows. :func:`inert` escapes them (``\\x1b``, ``\\u202e``) so they show as text; every log line passes through it
(:class:`RedactingFilter`), and the commands print their own lines with :func:`echo`.
The emulator keeps its own filter for its server's log (it shares no client code); this one is the client's.

No line carries an ANSI colour code (every control character is escaped, so none could work anyway): werkzeug's
coloured request lines are written plain (:mod:`tiktok.emulator.serving`). The app's embedded emulator writes one
line per request it answers; they are shown only with ``-v`` (:func:`show_request_lines`, issue 24: they flooded
the app's terminal).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SECRET_QUERY_PARAMS = (
    "code", "state", "access_token", "refresh_token", "token", "upload_token", "client_secret", "code_verifier",
    "client_key",
)
_QUERY_SECRET = re.compile(r"(?<=[?&;])(" + "|".join(SECRET_QUERY_PARAMS) + r""")=[^&;#\s"'\x1b]*""")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s,;\"']+")
_URL_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+(?=@)")  # DATABASE_URL's password
_FEED_TOKEN = re.compile(r"(/calendar/feed/)[^/.\s\"']+")  # the calendar feed's address is its secret
_SHARE_TOKEN = re.compile(r"((?:^|[\s\"'(]|//[^/\s\"']+)/s/)[^/.?#\s\"']+")  # a share link's (tiktok.web.shares)


# C0 controls but tab and newline, DEL, C1 controls, the bidi marks, embeddings, overrides and isolates (the
# "Trojan Source" set), the line and paragraph separators, and lone surrogates (a file name's undecodable bytes,
# which would also make print() fail)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROLS_AND_NEWLINE = re.compile(_CONTROLS.pattern[:-1] + r"\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str, *, newlines: bool = True) -> str:
    """``text`` with every character that can drive a terminal escaped as ``\\xNN`` / ``\\uNNNN``; tabs stay, and
    newlines too unless ``newlines`` is False (for one line made of someone else's text)."""
    return (_CONTROLS if newlines else _CONTROLS_AND_NEWLINE).sub(_escape, text)


def echo(text: str, *, file: TextIO | None = None, newlines: bool = False) -> None:
    """Print one of a command's own lines (to stdout, or ``file``), made :func:`inert` and flushed at once. It is
    one line: a newline inside ``text`` (from a title, a caption, an error message) is escaped too, unless
    ``newlines`` says the text has several lines of the program's own."""
    print(inert(text, newlines=newlines), file=sys.stdout if file is None else file, flush=True)


def redact(message: str) -> str:
    """``message`` with secret query values and Bearer credentials replaced by ``***``."""
    message = _SHARE_TOKEN.sub(r"\1***", _FEED_TOKEN.sub(r"\1***", message))
    return _URL_PASSWORD.sub(r"\1***", _BEARER.sub(r"\1***", _QUERY_SECRET.sub(r"\1=***", message)))


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message, and its traceback, through :func:`redact` and :func:`inert`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = inert(redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:  # the Formatter uses exc_text as it is when set
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = inert(redact(record.exc_text))
        if record.stack_info:
            record.stack_info = inert(redact(record.stack_info))
        return True


def install_redaction(logger_name: str) -> None:
    """Add one RedactingFilter to ``logger_name`` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


REQUEST_LINES = "werkzeug"  # the logger of the emulator's request lines (tiktok.emulator.serving) and its errors


def show_request_lines(shown: bool) -> None:
    """The emulator's one line per request at INFO only when ``shown`` (``python app.py -v``); its errors (a
    request that broke it) always."""
    logging.getLogger(REQUEST_LINES).setLevel(logging.INFO if shown else logging.WARNING)


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:  # covers every logger that propagates to the root
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    install_redaction("werkzeug")  # also for handlers werkzeug may add itself
    install_redaction("urllib3.connectionpool")
