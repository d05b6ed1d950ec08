"""Logging set-up shared by the app and the commands.

Query-string secrets (code, state, upload_token, ...) are masked in every log line: werkzeug's access log and
urllib3's debug log both print full URLs.
"""

from __future__ import annotations

import logging

from tiktok.emulator.logs import RedactingFilter, install_redaction

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:  # covers every logger that propagates to the root
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    install_redaction("werkzeug")  # also for handlers werkzeug may add itself
    install_redaction("urllib3.connectionpool")
