"""The local web app, built by :func:`create_app` (``app.py`` only calls it and runs the server)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, render_template

from tiktok.config import Settings, load_settings
from tiktok.logs import install_redaction
from tiktok.services import build_services, token_store
from tiktok.errors import DatabaseError, StoreError, TokenFileError
from tiktok.exitcodes import outcome_label
from tiktok.text import plain_line
from tiktok.web.flows import LoginFlows

PACKAGE = Path(__file__).resolve().parents[1]  # tiktok/: templates/ and assets/ ship inside the package


def create_app(test_config: Mapping[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app. ``test_config`` uses the environment variables' names (``TOKENS_FILE``,
    ``TIKTOK_API_BASE``, ...) and replaces the environment entirely; ``CLOCK`` injects time (both clocks). Without it
    ``CLOCK`` (stores, leases, sign-in windows) is the machine's and ``WORLD_CLOCK`` (the runner's schedule, the
    composer's, slots' and import's now) is the emulator's in emulated mode (:mod:`tiktok.clock`)."""
    test_config = dict(test_config or {})
    injected = test_config.pop("CLOCK", None)
    if settings is None:
        settings = load_settings({k: str(v) for k, v in test_config.items()} if test_config else None)
    from tiktok.clock import clock_for
    clock, world = injected or time.time, injected or clock_for(settings)
    app = Flask(__name__, template_folder=str(PACKAGE / "templates"), static_folder=str(PACKAGE / "assets"),
                static_url_path="/assets")
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_NAME="tiktok_tool_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        CLOCK=clock,
        WORLD_CLOCK=world,
    )
    app.extensions["tiktok_services"] = build_services(settings, store=token_store(settings, clock=clock))
    app.extensions["tiktok_login_flows"] = LoginFlows(clock=clock)
    from tiktok.web.security import install as install_security
    install_security(app, settings, clock)  # Host allow-list, security headers, APP_PASSWORD gate
    from tiktok.web import people
    people.install(app)  # /people/: who uses the app; every page after the password gate asks who (issue 26)
    install_redaction("werkzeug")  # the callback's code and state appear in request lines
    app.add_template_filter(outcome_label, "outcome_label")  # the CLI's outcome words on every page
    app.add_template_filter(plain_line, "plain_line")  # text in a <title> or <option>: no bidi override
    from tiktok.web.views import bp
    app.register_blueprint(bp)
    from tiktok.web.stats import register as register_stats
    register_stats(app, settings)
    from tiktok.web.transcripts import register as register_transcripts
    register_transcripts(app, settings)
    from tiktok.web import interactions
    interactions.register(app)  # likes, comments and bookmarks on transcripts, rate-limited (Flask-Limiter)
    from tiktok.web import covers, videos
    covers.register(app, settings)  # /covers/<video_id>: covers through a caching proxy, never hot-linked
    videos.register(app, settings)  # /videos/: an account's videos and "Transcribe selected"
    from tiktok.web.posts import register as register_posts
    register_posts(app, test_config)  # the Posts page, the composer and the background posting runner
    from tiktok.web.media import register as register_media
    register_media(app)  # the media library, /media/
    from tiktok.web.uploads import register as register_uploads
    register_uploads(app)  # the composer's sliced uploads, /posts/new/uploads
    from tiktok.web.fixes import register as register_fixes
    register_fixes(app)  # the composer's "Fix it": the media doctor on an upload
    from tiktok.web.published import register as register_published
    register_published(app, settings)  # /published/: media TikTok pulls (open: TikTok fetches it)
    from tiktok.web import attention, events
    attention.install(app)  # the count and banner on every page: accounts to relink, posts that need a look
    events.register(app)  # /events/: what happened, newest first
    from tiktok.web.status import register as register_status
    register_status(app)  # /status/ and /metrics (Prometheus)
    from tiktok.web.audit import register as register_audit
    register_audit(app)  # /audit/: TikTok's UX points and the demo video's checklist
    from tiktok.web.setup import register as register_setup
    register_setup(app)  # /setup/: the doctor's checks (tiktok.setup_checks)
    from tiktok.web import calendar_feed, slots
    calendar_feed.register(app)  # /calendar/feed/<token>.ics (open: the token guards it)
    slots.register(app)  # /slots/: posting slots per account, the feed's address
    from tiktok.web import shares
    shares.register(app)  # /s/<token>: one transcript, read-only (open: the token guards it)
    from tiktok.web import calendar
    calendar.register(app)  # /calendar/: every post on a month or week calendar; drag to reschedule
    from tiktok.web.imports import register as register_imports
    register_imports(app)  # /import/: a CSV or manifest checked row by row, then its good rows saved

    @app.errorhandler(TokenFileError)
    def token_file_unusable(exc: TokenFileError):
        return render_template("message.html", title="The token file cannot be used", ok=False,
                               message=f"{exc}. Nothing was changed; fix or restore the file, then reload."), 500

    @app.errorhandler(DatabaseError)
    def database_unusable(exc: DatabaseError):
        return render_template("message.html", title="The database cannot be used", ok=False,
                               message=f"{exc}. Nothing was changed; reload once it is back."), 503

    @app.errorhandler(StoreError)
    def store_unusable(exc: StoreError):
        return render_template("message.html", title="The post store cannot be used", ok=False,
                               message=f"{exc}."), 503

    @app.errorhandler(404)
    def not_found(exc):
        return render_template("message.html", title="Page not found", ok=False,
                               message="Nothing lives at this address. It may have been removed, or the link is "
                                       "wrong."), 404

    @app.errorhandler(500)
    def server_error(exc):  # Flask has logged the traceback; the page says nothing about the code or its data
        return render_template("message.html", title="Something went wrong", ok=False,
                               message="The app hit an error it did not expect, and this request did not finish. "
                                       "The details are in the app's log; try again, or go back."), 500
    return app
