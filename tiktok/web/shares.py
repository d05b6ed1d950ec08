"""Share links: ``/s/<token>`` shows one transcript, read-only, to anyone holding the link (issue 26, item 5).

Making and revoking (behind the app's sign-in like every other page):

- Any signed-in person makes a link on a transcript's page (``POST /transcripts/<open_id>/<video_id>/shares``).
  The address is shown once, on that page, with a "Copy link" button: the store keeps only a hash of its token
  (:mod:`tiktok.store.shares`), so it cannot be shown again.
- The page lists the live links to it: a person sees the ones they made, the owner sees every one. The one who made
  a link, or the owner, revokes it (``POST /shares/<id>/revoke``); anyone else gets 403.

Opening (``/s/<token>``, its ``.txt``/``.srt``/``.vtt`` downloads and its cover): open without signing in, off this
machine and past APP_PASSWORD alike (``PUBLIC_ENDPOINTS`` in :mod:`tiktok.web.security`); the token is the key.
The page is standalone: no nav and no address of any other page of the app (only its own downloads, its cover and
the static assets), no form and so no CSRF token or session cookie, ``Referrer-Policy: no-referrer`` (the address
is the secret) and ``X-Robots-Tag: noindex``. A revoked token, a made-up one and one whose transcript is gone all
answer the same 404 page after the same work (:meth:`~tiktok.store.shares.ShareQueries.shared`). Request logs show
``/s/***`` (:func:`tiktok.logs.redact`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from flask import (Blueprint, Flask, Response, abort, flash, make_response, redirect, render_template, request,
                   session, url_for)

from tiktok.store.shares import ShareLink
from tiktok.transcription.store import TranscriptRecord, TranscriptsFolderError
from tiktok.web.covers import PLACEHOLDER_SVG, covers
from tiktok.web.people import current_person
from tiktok.web.post_store import post_store, time_html
from tiktok.web.transcripts import DOWNLOAD_TYPES, store as transcripts
from tiktok.web.views import check_csrf

bp = Blueprint("shares", __name__)
NEW_LINK = "new_share"  # the session key holding a just-made link until its transcript page shows it once
PUBLIC = {"shares.shared", "shares.shared_download", "shares.shared_cover"}  # tiktok.web.security adds them


def register(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def share_helpers() -> dict:
        return {"share_links": links_for_page, "time_html": time_html}


def share_url(token: str) -> str:
    return url_for("shares.shared", token=token, _external=True)


def links_for_page(record: TranscriptRecord) -> dict:
    """What the transcript page's share section shows: the live links this person may see and revoke, and the
    address of the one they just made (once)."""
    person = current_person()
    if person is None:
        return {"person": None, "links": [], "new": None}
    store = post_store()
    made_by = None if person.is_owner else person.open_id
    links = store.shares_of(record.open_id, record.video_id, made_by=made_by)
    new = session.get(NEW_LINK)
    if new and new.get("open_id") == record.open_id and new.get("video_id") == record.video_id:
        session.pop(NEW_LINK)
    else:
        new = None
    names = {p.open_id: p.name for p in store.people()}
    return {"person": person, "links": [(link, names.get(link.created_by, link.created_by)) for link in links],
            "new": new}


@bp.post("/transcripts/<open_id>/<video_id>/shares")
def create(open_id: str, video_id: str):
    check_csrf()
    person = current_person()
    if person is None:
        abort(403, description="Sign in (People) to share a transcript: a link names the person who made it.")
    record = _record(open_id, video_id)
    if record is None or not record.ok:
        abort(404)
    token, _ = post_store().create_share(open_id, video_id, created_by=person.open_id)
    session[NEW_LINK] = {"open_id": open_id, "video_id": video_id, "url": share_url(token)}
    return redirect(url_for("transcripts.transcript", open_id=open_id, video_id=video_id), 303)


@bp.post("/shares/<int:share_id>/revoke")
def revoke(share_id: int):
    check_csrf()
    person = current_person()
    link = post_store().share_link(share_id)
    if link is None:
        abort(404)
    if person is None or not (person.is_owner or person.open_id == link.created_by):
        abort(403, description="Only the person who made a share link, or the owner, can revoke it.")
    post_store().revoke_share(share_id, by=person.open_id, owner=person.is_owner)  # the store checks it again
    flash("The share link is revoked: it now answers “not found”.", "ok")
    return redirect(url_for("transcripts.transcript", open_id=link.open_id, video_id=link.video_id), 303)


def _record(open_id: str, video_id: str) -> TranscriptRecord | None:
    try:
        return transcripts().get(open_id, video_id)
    except TranscriptsFolderError:
        return None


def _opened(token: str) -> tuple[ShareLink, TranscriptRecord]:
    """The live link and its completed transcript, or 404 (revoked, never made or gone look alike)."""
    link = post_store().shared(token)
    record = _record(link.open_id, link.video_id) if link is not None else None
    if link is None or record is None or not record.ok:
        gone()
    return link, record


def gone() -> NoReturn:
    """A revoked, made-up or emptied link: the share page's own 404, with nothing of the app on it."""
    abort(make_response(render_template("share.html", record=None), 404))


@bp.after_request
def shared_headers(response: Response) -> Response:
    """The shared pages' headers, their 404 included: the address is the secret, so no Referer carries it on,
    no search engine lists it and no cache keeps it."""
    if request.endpoint in PUBLIC:
        response.headers["Referrer-Policy"] = "no-referrer"  # tiktok.web.security keeps it (setdefault)
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/s/<token>")
def shared(token: str):
    link, record = _opened(token)
    try:
        text = transcripts().read(link.open_id, link.video_id)
    except (FileNotFoundError, TranscriptsFolderError):
        gone()
    return render_template("share.html", record=record, text=text, token=token, kinds=tuple(DOWNLOAD_TYPES))


@bp.get("/s/<token>/transcript.<kind>")
def shared_download(token: str, kind: str):
    link, record = _opened(token)  # first: a wrong token and a wrong kind answer alike
    if kind not in DOWNLOAD_TYPES:
        gone()
    try:
        body = transcripts().read(link.open_id, link.video_id, kind)
    except (FileNotFoundError, TranscriptsFolderError):
        gone()
    name = Path(transcripts().path(record.open_id, record.video_id, kind)).name
    return Response(body, content_type=DOWNLOAD_TYPES[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/s/<token>/cover")
def shared_cover(token: str):
    """The video's cover through the app's cover cache (tiktok.web.covers), else its placeholder."""
    _, record = _opened(token)
    found = covers().get(record.video_id) if covers().known(record.video_id) else None
    if found is None:
        return Response(PLACEHOLDER_SVG, mimetype="image/svg+xml")
    data, kind = found
    return Response(data, mimetype=kind)

