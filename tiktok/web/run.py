"""``python app.py``: start the app, and the emulator beside it when no TikTok app is configured."""

from __future__ import annotations

import logging
import sys

from tiktok.config import load_settings
from tiktok.errors import ConfigError
from tiktok.logs import configure_logging

log = logging.getLogger("tiktok.app")


def main() -> int:
    configure_logging(logging.INFO)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emulator = None
    if settings.embedded_emulator:
        from tiktok.emulator.server import start_emulator
        try:
            emulator = start_emulator(host="127.0.0.1", port=settings.emulator_port)
        except OSError as exc:
            print(f"error: cannot start the TikTok emulator on 127.0.0.1:{settings.emulator_port} ({exc}); "
                  "set TIKTOK_EMULATOR_PORT to a free port", file=sys.stderr)
            return 2
        log.warning("EMULATED MODE: no TIKTOK_CLIENT_KEY is set, so this app talks to the local TikTok emulator "
                    "at %s. Nothing reaches TikTok.", emulator.url)
    from tiktok.web import create_app
    app = create_app(settings=settings)
    log.info("open http://%s:%d/ (tokens file: %s)", "127.0.0.1" if settings.host in ("0.0.0.0", "::")
             else settings.host, settings.port, settings.tokens_path.resolve())
    try:
        app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)
    finally:
        if emulator is not None:
            emulator.shutdown()
    return 0
