"""People: who is using the app (issue 26, item 1). A person signs in with TikTok (Login Kit, scope
``user.info.basic`` only, PKCE, the same OAuth client and callback as connecting an account); that connects no
account for posting and keeps no token: the app only learns the person's open_id, name and avatar.

Rules (the store's side is :mod:`tiktok.store.people`):

- The first person to sign in is the **owner**. Anyone after waits ("waiting for the owner") until the owner allows
  them on the People page (``/people/``): by approving their request, or beforehand by the @name of a connected
  account. The owner removes members; a removed person's sign-ins end at once.
- **This machine**: a request from a loopback address that no proxy forwarded (none of :data:`PROXY_HEADERS`;
  waitress keeps them for this, :mod:`tiktok.web.run`) is on this machine. There, while nobody but the owner may see the app, the owner is
  signed in without asking (today's single user on 127.0.0.1 sees everything). Once a member exists, everyone signs in.
- **Anywhere else** nobody sees any page without signing in, and the owner can only be claimed from this machine or
  past APP_PASSWORD (a stranger reaching an unprotected app through a proxy only ever files a request).
- **APP_PASSWORD and people**: the password gate (:mod:`tiktok.web.security`) comes first and is unchanged: with
  it set, every page, the people sign-in included, asks for the password before anything else; then a person
  signs in. The password says "this browser may reach the app", the person says who is using it.
- **Hardening**: a sign-in is a row in the store (the cookie holds its random id, the store a hash), checked on
  every request, ended there at Sign out (a copy of the cookie stops working) and after ``SESSION_HOURS``; sign-in
  starts are throttled per address and overall (:class:`~tiktok.web.security.SignInThrottle`); every form carries
  the CSRF token; ``next`` is followed only to a local path (:func:`~tiktok.web.security.safe_next`).
- While the store cannot be read, this machine's browser keeps today's access and every other one gets 503.

Other blueprints ask :func:`current_person` who is using the app.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from types import SimpleNamespace

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from tiktok.auth.oauth import build_authorize_url
from tiktok.auth.pkce import code_challenge
from tiktok.errors import StoreError, TikTokError
from tiktok.store.people import OWNER, Person
from tiktok.web.flows import PendingLogin, TooManyLogins
from tiktok.web.post_store import post_store
from tiktok.web.security import (PUBLIC_ENDPOINTS, SESSION_HOURS, SignInThrottle, address_of, current_settings,
                                 return_path, safe_next)

log = logging.getLogger(__name__)
bp = Blueprint("people", __name__, url_prefix="/people")

SCOPES = ("user.info.basic",)  # Login Kit's basic profile: open_id, name, avatar; nothing to post with
PERSON_FIELDS = ("open_id", "display_name", "avatar_url")
SIGN_IN_ENDPOINTS = {"people.signin", "people.waiting", "people.signout", "accounts.callback"}
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "X-Forwarded-Proto")
SIGN_IN_STARTS = 10  # sign-ins one address may start per window (security.FAILURE_WINDOW_S) without finishing one
THROTTLE = "tiktok_people_throttle"
SESSION_KEY = "person"


def on_this_machine() -> bool:
    """The request comes from a loopback address and no proxy forwarded it."""
    if any(request.headers.get(h) for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def current_person() -> Person | None:
    """Who is using the app in this request: the person signed in, or on this machine the owner while nobody else
    may see the app; None when nobody (or nobody yet: no person has signed in on this machine)."""
    if "tiktok_person" not in g:
        g.tiktok_person, g.tiktok_person_signed_in = _find_person()
    return g.tiktok_person


def _find_person() -> tuple[Person | None, bool]:
    store = post_store()
    person = store.session_person(session.get(SESSION_KEY))
    if person is not None:
        return person, True
    if SESSION_KEY in session:
        session.pop(SESSION_KEY)  # ended or expired: forget it (popping a missing key would rewrite the cookie)
    if on_this_machine() and store.allowed_count() <= 1:
        return next((p for p in store.people() if p.role == OWNER), None), False
    return None, False


def signed_in() -> bool:
    """A person signed in with TikTok in this browser (not the owner let in on this machine)."""
    return _person_or_none() is not None and bool(g.get("tiktok_person_signed_in"))


def _access() -> str:
    """``"in"`` (this request may see the app), ``"waiting"`` (a person the owner has not allowed) or ``"sign-in"``;
    StoreError when the store cannot be read."""
    person = current_person()
    if person is not None:
        return "in" if person.allowed else "waiting"
    if on_this_machine() and post_store().allowed_count() == 0:
        return "in"  # nobody has signed in yet: the machine's own browser sees everything, as before people
    return "sign-in"


def may_see() -> bool:
    """Whether this request may see the app's own facts (pages, banners); never raises."""
    try:
        return _access() == "in"
    except StoreError:
        return on_this_machine() and not session.get(SESSION_KEY)


def refusal():
    """The answer for a request this browser may not see yet, or None when it may."""
    try:
        access = _access()
    except StoreError as exc:
        if on_this_machine() and not session.get(SESSION_KEY):
            return None
        log.warning("could not check who is signed in: %s", exc)
        abort(503, description="The app's store cannot be read right now, so nobody can be signed in. Try again "
                               "in a minute.")
    if access == "in":
        return None
    if access == "waiting":
        return redirect(url_for("people.waiting"))
    return redirect(url_for("people.signin", next=return_path()))


def install(app: Flask) -> None:
    """Register the People pages and the check that runs before every other page (after the password gate)."""
    app.extensions[THROTTLE] = SignInThrottle(app.config["CLOCK"], per_address=SIGN_IN_STARTS)
    # the accounts blueprint's /callback/ hands a person's sign-in here (it cannot import this module: a circle)
    app.extensions["tiktok_people"] = SimpleNamespace(finish_sign_in=finish_sign_in, refusal=refusal)
    app.register_blueprint(bp)

    @app.before_request
    def require_person():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint in SIGN_IN_ENDPOINTS:
            return None
        return refusal()

    @app.context_processor
    def people_globals() -> dict:
        return {"current_person": _person_or_none, "person_signed_in": signed_in}


def _person_or_none() -> Person | None:
    """For templates: the person, but nobody before the password gate let this browser in (its page names no one)."""
    gate = current_app.extensions.get("tiktok_password_gate")
    if gate is not None and not gate.sign_ins.is_open(session.get("sign_in")):
        return None
    try:
        return current_person()
    except StoreError:
        return None


def _views():
    from tiktok.web import views  # the accounts blueprint: services, CSRF, login flows
    return views


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """GET: the page explaining what signing in is; POST: off to TikTok's consent page (user.info.basic only)."""
    views = _views()
    if request.method == "GET":
        session["person_next"] = safe_next(request.args.get("next"))
        return render_template("people_signin.html", error="")
    views.check_csrf()
    address = address_of(request.remote_addr)
    wait = current_app.extensions[THROTTLE].admit(address)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        error = (f"Too many sign-ins were started from this address without finishing. Try again in {minutes} "
                 f"minute{'s' if minutes > 1 else ''}.")
        return render_template("people_signin.html", error=error), 429, {"Retry-After": str(math.ceil(wait))}
    settings = current_settings()
    if "login_browser" not in session:
        session["login_browser"] = views.flows().new_browser_id()
    try:
        pending = views.flows().start(session["login_browser"], purpose="person")
    except TooManyLogins as exc:
        log.warning("sign-in not started: %s", exc)
        return views.page_error("Too many sign-ins in progress", "Too many sign-ins are waiting at TikTok's consent "
                                "page right now. Try again in a few minutes.", 503)
    return redirect(build_authorize_url(settings.auth_url, client_key=settings.client_key, scopes=SCOPES,
                                        redirect_uri=settings.redirect_uri, state=pending.state,
                                        code_challenge=code_challenge(pending.verifier, settings.pkce_encoding)))


def finish_sign_in(pending: PendingLogin):
    """The callback of a person's sign-in (``/callback/`` hands it here): who they are, then their sign-in."""
    views = _views()
    if request.args.get("error") == "access_denied":
        return views.page_error("Sign-in cancelled", "You (or TikTok) declined the sign-in. Nobody was signed in.",
                                403)
    if request.args.get("error") or not request.args.get("code"):
        detail = request.args.get("error") or "no authorization code"
        return views.page_error("Sign-in failed", f"TikTok did not sign you in. Try again. Details: {detail}.", 400)
    svc = views.services()
    try:
        grant = svc.oauth.exchange_code(request.args["code"], redirect_uri=svc.settings.redirect_uri,
                                        code_verifier=pending.verifier)
        user = svc.api.user_info(grant.access_token, PERSON_FIELDS)
    except TikTokError as exc:
        log.warning("person sign-in failed: %s", exc)
        return views.page_error("Sign-in failed", f"TikTok did not sign you in: {exc}. Try again.", 400)
    may_own = on_this_machine() or bool(current_settings().app_password)
    store = post_store()
    person = store.sign_in_person(grant.open_id, str(user.get("display_name") or "TikTok user"),
                                  str(user.get("avatar_url") or ""), may_own=may_own)
    current_app.extensions[THROTTLE].succeeded(address_of(request.remote_addr))
    target = safe_next(session.get("person_next"))
    kept = {k: session[k] for k in ("sign_in",) if k in session}  # the APP_PASSWORD sign-in stays
    session.clear()  # a fresh session (and CSRF token) for the person
    session.update(kept)
    session.permanent = True
    session[SESSION_KEY] = store.open_person_session(person.open_id, lifetime_s=SESSION_HOURS * 3600)
    log.info("person signed in as %s", person.role)
    if not person.allowed:
        return redirect(url_for("people.waiting"))
    flash(f"Signed in as {person.name}.", "ok")
    return redirect(target)


@bp.get("/waiting")
def waiting():
    person = _person_or_none()
    if person is not None and person.allowed:
        return redirect(url_for("accounts.index"))
    return render_template("people_waiting.html", person=person if signed_in() else None), 403


@bp.post("/signout")
def signout():
    _views().check_csrf()
    post_store().end_person_session(session.get(SESSION_KEY))  # ended here: a copy of the cookie stops working
    kept = {k: session[k] for k in ("sign_in",) if k in session}
    session.clear()
    session.update(kept)
    return redirect(url_for("people.signin"))


@bp.get("/")
def index():
    person = current_person()
    return render_template("people.html", people=post_store().people(), me=person,
                           owner=person is not None and person.is_owner)


def _owner_only() -> Person:
    _views().check_csrf()
    person = current_person()
    if person is None or not person.is_owner:
        abort(403, description="Only the owner allows and removes people.")
    return person


@bp.post("/allow")
def allow():
    """Allow a waiting request (by open_id), or someone by @name: a connected account's @username (allowed before
    they sign in) or the name of exactly one waiting request."""
    owner = _owner_only()
    store = post_store()
    open_id = request.form.get("open_id", "").strip()
    name = request.form.get("name", "").strip().removeprefix("@").strip()
    found: dict[str, str] | None = None
    if open_id:
        known = store.person(open_id)
        found = {"open_id": open_id, "name": known.name} if known else None
    elif name:
        found = _by_name(name, store.people())
    if found is None:
        flash(f"Nobody waiting or connected is called @{name or open_id}. Ask them to sign in at /people/signin, "
              "then approve their request here.", "error")
        return redirect(url_for("people.index")), 303
    allowed = store.allow_person(found["open_id"], by=owner.open_id, name=found["name"],
                                 avatar=found.get("avatar", ""))
    flash(f"{allowed.name} may use the app now.", "ok")
    return redirect(url_for("people.index")), 303


def _by_name(name: str, people: list[Person]) -> dict[str, str] | None:
    for account in _views().services().store.load().values():
        if account.username and account.username.lower() == name.lower():
            return {"open_id": account.open_id, "name": account.display_name or account.username,
                    "avatar": account.avatar_url or ""}
    waiting = [p for p in people if p.role == "pending" and p.name.lower() == name.lower()]
    return {"open_id": waiting[0].open_id, "name": waiting[0].name} if len(waiting) == 1 else None


@bp.post("/<open_id>/remove")
def remove(open_id: str):
    _owner_only()
    person = post_store().person(open_id)
    if person is None or not post_store().remove_person(open_id):
        flash("The owner cannot be removed." if person else "Nobody with that open_id uses the app.", "error")
    else:
        flash(f"Removed {person.name}: their sign-ins have ended.", "ok")
    return redirect(url_for("people.index")), 303
