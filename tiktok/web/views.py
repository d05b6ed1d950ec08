"""The app's pages: accounts, Login with TikTok, the callback, refresh, relink and remove."""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)

from tiktok.auth.access import RELINK_WARNING_S, fresh_account
from tiktok.api import user_fields_for
from tiktok.errors import OAuthError, RelinkNeeded, StoreError, TikTokError
from tiktok.auth.oauth import build_authorize_url
from tiktok.auth.pkce import code_challenge
from tiktok.auth.refresh import refresh_accounts, time_left
from tiktok.exitcodes import exit_status
from tiktok.posting.policy import SANDBOX_CODE, AppMode, app_mode
from tiktok.services import Services
from tiktok.auth.tokens import Account
from tiktok.text import moment
from tiktok.words import relink as relink_words
from tiktok.web.flows import LoginFlows, StateError, TooManyLogins

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)


def services() -> Services:
    return current_app.extensions["tiktok_services"]


def flows() -> LoginFlows:
    return current_app.extensions["tiktok_login_flows"]


@bp.app_context_processor
def inject_globals() -> dict:
    settings = services().settings
    return {"emulated": settings.emulated, "environment": settings.environment, "csrf_token": csrf_token,
            "format_time": moment}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()) or not sent:
        abort(400, description="The form expired or came from another site; reload the page and try again.")


def page_error(title: str, message: str, status: int):
    return render_template("message.html", title=title, message=message, ok=False), status


@bp.get("/")
def index():
    now = current_app.config["CLOCK"]()
    accounts = sorted(services().store.load().values(), key=lambda a: a.label)
    rows = [account_row(a, now) for a in accounts]
    return render_template("index.html", rows=rows, now=now, mode_line=mode_line(current_app_mode()))


def current_app_mode() -> AppMode:
    """The TikTok app's mode: TIKTOK_APP_MODE when set, else what TikTok's answers showed (the post store's
    ``app_mode`` value, :mod:`tiktok.store.status`), else unknown (issue 25)."""
    from tiktok.web.post_store import post_store
    try:
        detected = post_store().detected_app_mode()
    except StoreError as exc:
        log.warning("could not read the detected app mode: %s", exc)
        detected = None
    return app_mode(services().settings.tiktok.app_mode, detected)


def mode_line(mode: AppMode) -> str | None:
    """The accounts page's line on the app's mode; None while it is unknown."""
    if mode.mode is None:
        return None
    how = "TIKTOK_APP_MODE says so" if mode.source == "setting" else f"detected: TikTok answered {mode.code}"
    what = {"sandbox": "only the target users added in TikTok's developer portal can log in",
            "unaudited": "Direct Post only as “Only me” from private accounts; inbox drafts publish publicly",
            "audited": "every privacy level the account offers"}[mode.mode]
    return f"This TikTok app is {mode.mode} ({how}): {what}."


def account_row(account: Account, now: float) -> dict:
    """What the accounts table shows for one account, including the relink warning."""
    warning, details = "", ""
    if account.relink_reason:  # in plain words, also as earlier versions stored it; TikTok's code in the details
        words = relink_words(account.relink_reason)
        warning, details = f"Relink needed: {words.sentence}.", words.details
    elif account.refresh_expires_at <= now:
        warning = "Relink needed: the refresh token has expired."
    elif account.refresh_expires_within(RELINK_WARNING_S, now):
        warning = (f"Relink needed soon: the refresh token expires in "
                   f"{time_left(account.refresh_expires_at - now)}.")
    return {"account": account, "warning": warning, "details": details,
            "access_left": time_left(account.expires_at - now),
            "refresh_left": time_left(account.refresh_expires_at - now)}


@bp.get("/login/")
def login():
    return start_login(None)


@bp.post("/accounts/<open_id>/relink")
def relink(open_id: str):
    check_csrf()
    return start_login(open_id)


def start_login(relink_open_id: str | None):
    settings = services().settings
    if "login_browser" not in session:  # binds this browser's logins in progress to it
        session["login_browser"] = flows().new_browser_id()
    try:
        pending = flows().start(session["login_browser"], relink_open_id)
    except TooManyLogins as exc:
        log.warning("login not started: %s", exc)
        return page_error("Too many logins in progress", "Too many logins are waiting at TikTok's consent page "
                          "right now. Nothing was changed; try again in a few minutes.", 503)
    url = build_authorize_url(settings.auth_url, client_key=settings.client_key, scopes=settings.scopes,
                              redirect_uri=settings.redirect_uri, state=pending.state,
                              code_challenge=code_challenge(pending.verifier, settings.pkce_encoding))
    return redirect(url)


@bp.get("/callback/")
def callback():
    try:
        pending = flows().finish(session.get("login_browser"), request.args.get("state"))
    except StateError as exc:
        log.warning("login callback refused: state %s", exc.kind)
        return page_error("Login not accepted", f"{exc} Nothing was saved. Start again from the accounts page.", 400)
    people = current_app.extensions["tiktok_people"]  # tiktok.web.people: who is using the app
    if pending.purpose == "person":  # a person signing in to the app: no account is connected
        return people.finish_sign_in(pending)
    if (refused := people.refusal()) is not None:  # only someone allowed in may connect an account
        return refused
    if request.args.get("error"):
        return callback_refused(request.args["error"], request.args.get("error_description", ""))
    code = request.args.get("code")
    if not code:
        return page_error("Login not accepted", "TikTok's answer carried no authorization code. Nothing was saved.",
                          400)
    svc = services()
    try:
        grant = svc.oauth.exchange_code(code, redirect_uri=svc.settings.redirect_uri, code_verifier=pending.verifier)
    except TikTokError as exc:
        log.warning("token exchange failed: %s", exc)
        return page_error("Login failed", f"TikTok did not issue tokens: {exc}. Nothing was saved; try again.", 400)
    now = current_app.config["CLOCK"]()
    account = Account.from_grant(grant, now, emulated=svc.settings.emulated, **profile_for(grant))
    svc.store.put(account)
    log.info("linked %s", account.label)
    flash(f"Connected {account.label}.", "ok")
    if pending.relink_open_id and pending.relink_open_id != grant.open_id:
        flash(f"You signed in as a different account than the one you chose to relink ({pending.relink_open_id}); "
              "both are now listed.", "warning")
    return redirect(url_for("accounts.index"))


def callback_refused(error: str, description: str):
    if error == SANDBOX_CODE:
        remember_mode("sandbox", error)
        detail = f"{error}: {description}" if description else error
        return page_error("Not a sandbox target user", "This TikTok app is in sandbox mode: only the target users "
                          "added in TikTok's developer portal can log in. Add this TikTok account as a target user "
                          "(developer portal: your app, Sandbox, Target users) or log in with one that is, then "
                          f"try again. Nothing was saved. Details: {detail}.", 400)
    if error == "access_denied":
        return page_error("Login cancelled", "You (or TikTok) declined the authorization. Nothing was saved.", 403)
    detail = f"{error}: {description}" if description else error
    return page_error("Login failed", f"TikTok refused the authorization ({detail}). Nothing was saved.", 400)


def remember_mode(mode: str, code: str) -> None:
    """Keep the mode TikTok's answer ``code`` showed in the post store, and log it the first time."""
    from tiktok.web.post_store import post_store
    try:
        if post_store().record_app_mode(mode, code):
            log.warning("TikTok answered %s: this TikTok app is %s (set TIKTOK_APP_MODE to say so yourself)", code,
                        mode)
    except StoreError as exc:
        log.warning("could not keep the app mode %s in the post store: %s", mode, exc)


def profile_for(grant) -> dict[str, str]:
    """Display name, username and avatar; a failure here must not lose the tokens just issued."""
    try:
        user = services().api.user_info(grant.access_token, user_fields_for(grant.scopes))
    except TikTokError as exc:
        log.warning("could not read the profile of %s: %s", grant.open_id, exc)
        return {}
    return {"display_name": str(user.get("display_name") or ""), "username": str(user.get("username") or ""),
            "avatar_url": str(user.get("avatar_url") or "")}


@bp.get("/refresh_tokens/")
def confirm_refresh():
    """A GET changes nothing (an <img src> on another site must not rotate tokens): it asks for the POST."""
    return render_template("refresh.html", outcomes=None, all_ok=True,
                           count=len(services().store.load()))


@bp.post("/refresh_tokens/")
def refresh_tokens():
    check_csrf()
    svc = services()
    outcomes = refresh_accounts(svc.store, svc.oauth, within=0, refresh_all=True, emulated=svc.settings.emulated)
    status = exit_status(outcomes)
    return render_template("refresh.html", outcomes=outcomes, all_ok=status == 0)


@bp.post("/accounts/<open_id>/remove")
def remove(open_id: str):
    check_csrf()
    svc = services()
    if svc.store.get(open_id) is None:
        return page_error("No such account", f"No connected account has open_id {open_id}.", 404)
    note = revoke_at_tiktok(open_id)
    if note is None:
        return page_error("Not removed", "TikTok could not be reached to revoke the access; the account was kept. "
                                         "Try again later.", 502)
    svc.store.remove(open_id)
    flash(f"Removed {open_id}: {note}", "ok")
    return redirect(url_for("accounts.index"))


def revoke_at_tiktok(open_id: str) -> str | None:
    """Revoke the grant; a note on what happened, or None when it must be tried again later."""
    svc = services()
    try:
        account = fresh_account(svc.store, svc.oauth, open_id)
        svc.oauth.revoke(account.access_token)
    except RelinkNeeded:
        return "its access was already gone at TikTok, so it was removed here only."
    except OAuthError as exc:
        if exc.transient:
            log.warning("revoke of %s failed: %s", open_id, exc)
            return None
        return f"TikTok refused the revoke ({exc}); it was removed here anyway."
    except TikTokError as exc:
        log.warning("revoke of %s failed: %s", open_id, exc)
        return None
    return "access revoked at TikTok and the tokens deleted here."
