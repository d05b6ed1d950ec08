"""Keep secrets out of access logs: werkzeug prints request lines with their query strings."""

from __future__ import annotations

import logging
import re

SECRET_QUERY_PARAMS = (
    "code", "state", "access_token", "refresh_token", "token", "upload_token", "client_secret", "code_verifier",
)
_SECRET_PARAM_RE = re.compile(r"(?<=[?&;])(" + "|".join(SECRET_QUERY_PARAMS) + r""")=[^&;#\s"'\x1b]*""")


def redact_query_secrets(message: str) -> str:
    """``message`` with the value of every secret-bearing query parameter replaced by ``***``."""
    return _SECRET_PARAM_RE.sub(r"\1=***", message)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secret query parameters from each record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_query_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install_redaction(logger_name: str = "werkzeug") -> None:
    """Add one RedactingFilter to ``logger_name`` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
