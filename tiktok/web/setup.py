"""The Setup page (``/setup/``, issue 25 item 2): the checks of ``python -m tiktok doctor``, one row each with its
verdict, sentence and fix, gathered by the same :func:`tiktok.setup_checks.gather`.

The page brings what the command brings, from the app: its settings, its token store's accounts, its clock, the app
mode in force (:func:`tiktok.web.views.current_app_mode`) and, for an unaudited app, each account's creator_info
through the composer's cache and shared limiter (:func:`tiktok.web.compose.creator_for`: TikTok allows 20 a minute
per account, reference 3.1). Like the command it changes nothing, and no secret is shown: the checks name settings
and files, never their values (tiktok.setup_checks).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template

from tiktok.posting.budget import usage as budget_usage
from tiktok.services import http_session
from tiktok.setup_checks import NOTE, OK, PROBLEM, exit_status, gather
from tiktok.web.post_store import post_store
from tiktok.web.views import current_app_mode, services

bp = Blueprint("setup", __name__, url_prefix="/setup")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def creator_options(open_id: str):
    """``(privacy_level_options, None)``, or ``(None, why)`` when creator_info gave no answer."""
    from tiktok.web.compose import creator_for
    creator, refusal = creator_for(open_id)
    if creator is None:
        return None, refusal.message.rstrip(".")
    return creator.privacy_options, None


@bp.get("/")
def index():
    svc = services()
    session = http_session()
    try:
        accounts, now = svc.store.load(), current_app.config["CLOCK"]()
        usage = budget_usage(post_store(), accounts, now, app_mode_setting=svc.settings.tiktok.app_mode)
        checks = gather(svc.settings, accounts=accounts, now=now, session=session, mode=current_app_mode(),
                        creator_options=creator_options, usage=usage)
    finally:
        session.close()
    return render_template("setup.html", checks=checks, status=exit_status(checks),
                           problems=sum(c.verdict == PROBLEM for c in checks), OK=OK, NOTE=NOTE, PROBLEM=PROBLEM)
