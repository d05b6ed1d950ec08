"""What every request and response of the app goes through: the Host allow-list, the security headers and,
when ``APP_PASSWORD`` is set, the sign-in gate.

* Host allow-list: a page on ``evil.example`` whose name an attacker re-points at 127.0.0.1 (DNS rebinding)
  would otherwise be same-origin with the app and could read its CSRF token; its requests carry
  ``Host: evil.example``, so anything but the app's own names (and ``ALLOWED_HOSTS``) is refused with 421
  before any view runs.
* Headers: a Content-Security-Policy with no inline script, ``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY`` (no clickjacking), ``nosniff`` and a same-origin referrer.
* Password: every page but the sign-in page and the static assets redirects to ``/app-login/`` until the
  password is given. A sign-in is recorded here (the cookie holds only its random id), lasts ``SESSION_HOURS``
  and ends here at Sign out, so a copy of the cookie stops working too. Wrong passwords are counted per address
  and overall (:class:`SignInThrottle`); after sign-in only a local path is followed.
* People (:mod:`tiktok.web.people`, issue 26): the password gate runs first and is unchanged; past it (or with no
  password), a person signs in with TikTok, checked on every request. The password says which browsers may reach
  the app, the person who is using it; on this machine the owner is let in while nobody else may use the app.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
import threading
from collections import OrderedDict, deque
from typing import Callable
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, abort, current_app, redirect, render_template, request, session,
                   url_for)
from flask.testing import FlaskClient

from tiktok.config import LOOPBACK_HOSTS, Settings
from tiktok.errors import ConfigError

SESSION_HOURS = 12
# published_file: TikTok pulls media; status.metrics asks for the password itself (basic auth, for Prometheus)
PUBLIC_ENDPOINTS = {"static", "security.app_login", "published.published_file", "status.metrics",
                    "calendar_feed.calendar_feed",  # a calendar app cannot sign in: the secret address guards it
                    "shares.shared", "shares.shared_download", "shares.shared_cover"}  # a share link: its token too
MIN_PASSWORD_CHARS = 12
ADDRESS_FAILURES = 5  # wrong passwords one address may send per window; then it waits
OVERALL_FAILURES = 50  # wrong passwords from all addresses per window; then only addresses with none may try
FAILURE_WINDOW_S = 15 * 60
_ADDRESSES_REMEMBERED = 10_000
_SIGN_INS_REMEMBERED = 1_000

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


def password_problem(password: str | None) -> str | None:
    """Why ``APP_PASSWORD`` cannot be used, or None (no password means no gate)."""
    if password is not None and len(password.strip()) < MIN_PASSWORD_CHARS:
        return (f"APP_PASSWORD is too short: use at least {MIN_PASSWORD_CHARS} characters besides spaces, for "
                "example one made by: python -c \"import secrets; print(secrets.token_urlsafe(18))\"")
    return None


def address_of(remote_addr: str | None) -> str:
    """Who is signing in, for counting: the IPv4 address, or the /64 an IPv6 host gets (it owns all of them)."""
    try:
        ip = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return remote_addr or "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


class SignInThrottle:
    """Wrong passwords in the last ``window`` seconds, per address and overall, by the app's clock.

    An address that sent ``per_address`` of them waits until the oldest leaves the window. Once ``overall``
    arrived from all addresses together, every address that sent one waits too, but an address with none still
    gets its try: however many addresses an attacker spends, the owner at a clean address can always sign in.
    """

    def __init__(self, clock: Callable[[], float], *, per_address: int = ADDRESS_FAILURES,
                 overall: int = OVERALL_FAILURES, window: float = FAILURE_WINDOW_S) -> None:
        self._clock = clock
        self._per_address = per_address
        self._window = window
        self._lock = threading.Lock()
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()  # least recently failed first
        self._all: deque[float] = deque(maxlen=overall)

    def admit(self, address: str) -> float:
        """Seconds before ``address`` may try a password; 0 means now, and the try counts as a wrong one until
        :meth:`succeeded` (so parallel tries cannot all slip in before the first is counted)."""
        now = self._clock()
        cutoff = now - self._window
        with self._lock:
            mine = [t for t in self._by_address.get(address, ()) if t > cutoff]
            if len(mine) >= self._per_address:
                return mine[-self._per_address] - cutoff
            if mine and len(self._all) == self._all.maxlen and self._all[0] > cutoff:
                return self._all[0] - cutoff
            self._by_address[address] = deque(mine + [now], maxlen=self._per_address)
            self._by_address.move_to_end(address)
            self._all.append(now)
            while len(self._by_address) > _ADDRESSES_REMEMBERED:
                self._by_address.popitem(last=False)
        return 0.0

    def succeeded(self, address: str) -> None:
        """The right password: the address's record goes, and its try no longer counts overall."""
        with self._lock:
            mine = self._by_address.pop(address, None)
            if mine and mine[-1] in self._all:
                self._all.remove(mine[-1])


class SignIns:
    """Sign-ins recorded on the server, by a hash of the random id their cookie holds."""

    def __init__(self, clock: Callable[[], float], *, hours: float = SESSION_HOURS) -> None:
        self._clock = clock
        self._lifetime = hours * 3600
        self._lock = threading.Lock()
        self._open: OrderedDict[bytes, float] = OrderedDict()  # oldest first

    def open(self) -> str:
        sign_in = secrets.token_urlsafe(32)
        with self._lock:
            self._open[_digest(sign_in)] = self._clock()
            while len(self._open) > _SIGN_INS_REMEMBERED:
                self._open.popitem(last=False)
        return sign_in

    def is_open(self, sign_in: object) -> bool:
        if not isinstance(sign_in, str):
            return False
        key = _digest(sign_in)
        with self._lock:
            since = self._open.get(key)
            if since is not None and 0 <= self._clock() - since < self._lifetime:
                return True
            self._open.pop(key, None)
        return False

    def close(self, sign_in: object) -> None:
        if isinstance(sign_in, str):
            with self._lock:
                self._open.pop(_digest(sign_in), None)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class PasswordGate:
    def __init__(self, password: str, clock: Callable[[], float]) -> None:
        self._digest = _digest(password)
        self.throttle = SignInThrottle(clock)
        self.sign_ins = SignIns(clock)

    def matches(self, sent: str) -> bool:
        return hmac.compare_digest(_digest(sent), self._digest)  # equal lengths: the time says nothing


def gate() -> PasswordGate:
    return current_app.extensions["tiktok_password_gate"]


def install(app: Flask, settings: Settings, clock) -> None:
    problem = password_problem(settings.app_password)
    if problem:
        raise ConfigError(problem)
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
        app.extensions["tiktok_password_gate"] = PasswordGate(settings.app_password, clock)

        @app.before_request
        def require_password():
            if request.endpoint in PUBLIC_ENDPOINTS:
                return None
            if gate().sign_ins.is_open(session.get("sign_in")):
                return None
            session.pop("sign_in", None)
            return redirect(url_for("security.app_login", next=return_path()))

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Referrer-Policy", "same-origin")  # a secret address sets no-referrer
        return response

    @app.context_processor
    def password_globals() -> dict:
        return {"password_gate": bool(settings.app_password)}

    app.register_blueprint(bp)


def return_path() -> str:
    """Where to come back to after signing in: this page (a GET's path and query), else the start page."""
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "") if request.method == "GET" else "/"


_LOCAL_PATH = re.compile(r"/(?![/\\])[!-~]*")  # printable ASCII from "/": no space, tab or "//" host


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in; anything else goes to the accounts page.

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so ``/\t/host`` or
    ``/\\host`` would leave the site: only printable ASCII, without a backslash, is followed."""
    if not target or not _LOCAL_PATH.fullmatch(target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


@bp.route("/app-login/", methods=["GET", "POST"])
def app_login():
    settings = current_settings()
    if not settings.app_password:
        return redirect(url_for("accounts.index"))
    from tiktok.web.views import check_csrf
    if request.method == "GET":
        return render_template("app_login.html", error="")
    check_csrf()
    address = address_of(request.remote_addr)
    wait = gate().throttle.admit(address)
    if wait > 0:  # the password is not even looked at: a refusal says nothing about it
        minutes = math.ceil(wait / 60)
        error = (f"Too many wrong passwords from this address. Try again in {minutes} minute"
                 f"{'s' if minutes > 1 else ''}.")
        return render_template("app_login.html", error=error), 429, {"Retry-After": str(math.ceil(wait))}
    if gate().matches(request.form.get("password", "")):
        gate().throttle.succeeded(address)
        session.clear()  # a fresh session (and CSRF token) for the signed-in person
        session.permanent = True
        session["sign_in"] = gate().sign_ins.open()
        return redirect(safe_next(request.args.get("next")))
    return render_template("app_login.html", error="That is not the password (APP_PASSWORD in .env)."), 401


@bp.post("/app-logout/")
def app_logout():
    from tiktok.web.views import check_csrf
    check_csrf()
    gate().sign_ins.close(session.get("sign_in"))  # ended here: a copy of the cookie no longer signs anyone in
    session.clear()
    return redirect(url_for("security.app_login"))
