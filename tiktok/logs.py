"""Logging set-up shared by the app and the commands; query-string secrets are masked in access logs."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    try:
        from .emulator.logs import RedactingFilter
    except ImportError:  # pragma: no cover - the emulator package is part of the product
        return
    logging.getLogger("werkzeug").addFilter(RedactingFilter())
