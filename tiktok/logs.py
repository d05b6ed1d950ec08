"""Logging set-up shared by the app and the commands; query-string secrets are masked in access logs."""

from __future__ import annotations

import logging

from .emulator.logs import install_redaction

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    install_redaction("werkzeug")
