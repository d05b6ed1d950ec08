"""What every request and response of the app goes through: the Host allow-list, the security headers and,
when ``APP_PASSWORD`` is set, the sign-in gate.

* Host allow-list: a page on ``evil.example`` whose name an attacker re-points at 127.0.0.1 (DNS rebinding)
  would otherwise be same-origin with the app and could read its CSRF token; its requests carry
  ``Host: evil.example``, so anything but the app's own names (and ``ALLOWED_HOSTS``) is refused with 421
  before any view runs.
* Headers: a Content-Security-Policy with no inline script, ``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY`` (no clickjacking), ``nosniff`` and a same-origin referrer.
* Password: every page but the sign-in page and the static assets redirects to ``/app-login/`` until the
  password is given; a sign-in lasts ``SESSION_HOURS``.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, abort, current_app, redirect, render_template, request, session,
                   url_for)
from flask.testing import FlaskClient

from tiktok.config import LOOPBACK_HOSTS, Settings

SESSION_HOURS = 12
PUBLIC_ENDPOINTS = {"static", "security.app_login"}

bp = Blueprint("security", __name__)


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Every Host header value the app answers to, lower-cased."""
    port = settings.port
    names = {"127.0.0.1", "localhost", "[::1]"}
    if settings.host not in ("0.0.0.0", "::", "") and settings.host not in LOOPBACK_HOSTS:
        names.add(f"[{settings.host}]" if ":" in settings.host else settings.host)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts |= names
    for extra in settings.allowed_hosts:
        hosts.add(extra)  # as written: "name" (behind a proxy on 80/443) or "name:port"
        if not re.search(r":\d+$", extra):
            hosts.add(f"{extra}:{port}")
    return frozenset(h.lower() for h in hosts)


def content_security_policy(settings: Settings) -> str:
    auth = urlsplit(settings.auth_url)
    auth_origin = f"{auth.scheme}://{auth.netloc}" if auth.scheme and auth.netloc else ""
    api = urlsplit(settings.api_base)
    api_origin = f"{api.scheme}://{api.netloc}" if api.scheme and api.netloc else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: https: {api_origin}".strip(),  # avatars come from TikTok's CDN (or the emulator)
        "object-src 'none'",
        "base-uri 'none'",
        # Chromium also checks the redirect after a form post: Relink posts here and lands on TikTok's consent.
        f"form-action 'self' {auth_origin}".strip(),
        "frame-ancestors 'none'",
    ])


class AppTestClient(FlaskClient):
    """The Flask test client, addressed like a browser would: ``http://localhost:<the app's port>``.

    Werkzeug's default Host is a bare ``localhost``, which the allow-list refuses as it would a real request."""

    def open(self, *args, **kwargs):
        absolute = bool(args) and isinstance(args[0], str) and args[0].startswith(("http://", "https://"))
        if "base_url" not in kwargs and not absolute:
            kwargs["base_url"] = f"http://localhost:{current_settings(self.application).port}"
        return super().open(*args, **kwargs)


def current_settings(app: Flask | None = None) -> Settings:
    return (app or current_app).extensions["tiktok_services"].settings


def install(app: Flask, settings: Settings, clock) -> None:
    hosts = allowed_hosts(settings)
    policy = content_security_policy(settings)
    app.test_client_class = AppTestClient
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_HOURS * 3600

    @app.before_request
    def check_host():
        host = (request.headers.get("Host") or "").strip().lower()
        if host not in hosts:
            abort(421, description="This app answers only to its own address (see ALLOWED_HOSTS in .env.example).")

    if settings.app_password:
        @app.before_request
        def require_password():
            if request.endpoint in PUBLIC_ENDPOINTS:
                return None
            signed_in = session.get("signed_in_at")
            if isinstance(signed_in, (int, float)) and 0 <= clock() - signed_in < SESSION_HOURS * 3600:
                return None
            session.pop("signed_in_at", None)
            query = request.query_string.decode("latin-1")
            target = request.path + (f"?{query}" if query else "") if request.method == "GET" else "/"
            return redirect(url_for("security.app_login", next=target))

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.context_processor
    def password_globals() -> dict:
        return {"password_gate": bool(settings.app_password)}

    app.register_blueprint(bp)


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in; anything else goes to the accounts page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@bp.route("/app-login/", methods=["GET", "POST"])
def app_login():
    settings = current_settings()
    if not settings.app_password:
        return redirect(url_for("accounts.index"))
    from tiktok.web.views import check_csrf
    error = ""
    if request.method == "POST":
        check_csrf()
        sent = request.form.get("password", "")
        if hmac.compare_digest(sent.encode(), settings.app_password.encode()):
            session.clear()  # a fresh session (and CSRF token) for the signed-in person
            session.permanent = True
            session["signed_in_at"] = current_app.config["CLOCK"]()
            return redirect(safe_next(request.args.get("next")))
        error = "That is not the password (APP_PASSWORD in .env)."
    return render_template("app_login.html", error=error), (401 if error else 200)


@bp.post("/app-logout/")
def app_logout():
    from tiktok.web.views import check_csrf
    check_csrf()
    session.clear()
    return redirect(url_for("security.app_login"))
