"""``create_emulator()``: a strict local stand-in for TikTok's Login Kit, OAuth and Display API.

Cookies are never used: the emulator shares 127.0.0.1 with the app under test on another port, and browsers do not
isolate cookies by port, so the session cookie gets its own name and nothing reads it.
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask, Response, request

from . import (
    authorize,
    control,
    creator_info,
    request_log,
    media_server,
    publish,
    publish_status,
    token,
    upload_host,
    user_info,
    videos,
)
from .config import EmulatorConfig
from .envelope import EXTENSION_KEY, current_state
from .logs import install_redaction
from .state import EmulatorState

TEMPLATES = Path(__file__).resolve().parent / "templates"  # its own pages, inside its own package


def network_latency() -> None:
    """Wait ``latency_s`` (real time) before an API request, as the network to TikTok would; control calls do not."""
    latency = current_state().config.latency_s
    if latency and not request.path.startswith("/_emulator/"):
        time.sleep(latency)


def release_public_ids() -> None:
    """Publish the post ids whose moderation is over before anything can read them (moderation.py)."""
    current_state().release_public_ids()


def count_answer(response: Response) -> Response:
    current_state().count_answer(request.path, response.status_code)
    return response


def create_emulator(config: EmulatorConfig | None = None, state: EmulatorState | None = None) -> Flask:
    """A Flask app emulating TikTok; its EmulatorState is ``app.extensions["tiktok_emulator"]``."""
    config = config or EmulatorConfig()
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(SESSION_COOKIE_NAME="tiktok_emulator_session")
    app.extensions[EXTENSION_KEY] = state or EmulatorState(config)
    request_log.install(app)  # first: every request is in the log, refused ones included
    app.before_request(control.refuse_foreign_host)  # first: a refused request waits for nothing and changes nothing
    app.before_request(network_latency)
    app.before_request(release_public_ids)
    app.before_request(control.apply_fault)
    app.after_request(count_answer)
    for blueprint in (authorize.bp, token.bp, user_info.bp, control.bp):
        app.register_blueprint(blueprint)
    for blueprint in (videos.bp, media_server.bp):
        app.register_blueprint(blueprint)
    for blueprint in (creator_info.bp, publish.bp, publish_status.bp, upload_host.bp):
        app.register_blueprint(blueprint)
    install_redaction("werkzeug")
    return app
