"""``create_emulator()``: a strict local stand-in for TikTok's Login Kit, OAuth and Display API.

Cookies are never used: the emulator shares 127.0.0.1 with the app under test on another port, and browsers do not
isolate cookies by port, so the session cookie gets its own name and nothing reads it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from . import (
    authorize,
    control,
    creator_info,
    media_server,
    publish,
    publish_status,
    token,
    upload_host,
    user_info,
    videos,
)
from .config import EmulatorConfig
from .envelope import EXTENSION_KEY
from .logs import install_redaction
from .state import EmulatorState

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_emulator(config: EmulatorConfig | None = None, state: EmulatorState | None = None) -> Flask:
    """A Flask app emulating TikTok; its EmulatorState is ``app.extensions["tiktok_emulator"]``."""
    config = config or EmulatorConfig()
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(SESSION_COOKIE_NAME="tiktok_emulator_session")
    app.extensions[EXTENSION_KEY] = state or EmulatorState(config)
    app.before_request(control.apply_fault)
    for blueprint in (authorize.bp, token.bp, user_info.bp, control.bp):
        app.register_blueprint(blueprint)
    for blueprint in (videos.bp, media_server.bp):
        app.register_blueprint(blueprint)
    for blueprint in (creator_info.bp, publish.bp, publish_status.bp, upload_host.bp):
        app.register_blueprint(blueprint)
    install_redaction("werkzeug")
    return app
