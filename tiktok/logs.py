"""Logging set-up shared by the app and the commands, with secrets masked in every line.

werkzeug's access log and urllib3's debug log print full URLs, so the value of every secret-bearing query
parameter (code, state, upload_token, ...) is replaced by ``***``, and so is any ``Bearer`` credential and the
password in a ``postgresql://`` URL.
The emulator keeps its own filter for its server's log (it shares no client code); this one is the client's.
"""

from __future__ import annotations

import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SECRET_QUERY_PARAMS = (
    "code", "state", "access_token", "refresh_token", "token", "upload_token", "client_secret", "code_verifier",
    "client_key",
)
_QUERY_SECRET = re.compile(r"(?<=[?&;])(" + "|".join(SECRET_QUERY_PARAMS) + r""")=[^&;#\s"'\x1b]*""")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s,;\"']+")
_URL_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+(?=@)")  # DATABASE_URL's password


def redact(message: str) -> str:
    """``message`` with secret query values and Bearer credentials replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***", _BEARER.sub(r"\1***", _QUERY_SECRET.sub(r"\1=***", message)))


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_redaction(logger_name: str) -> None:
    """Add one RedactingFilter to ``logger_name`` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:  # covers every logger that propagates to the root
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    install_redaction("werkzeug")  # also for handlers werkzeug may add itself
    install_redaction("urllib3.connectionpool")
