"""``/published/<token>/<name>``: the media this tool publishes for TikTok to pull (:mod:`tiktok.media.publishing`).

TikTok fetches these without signing in, so the route is open whatever APP_PASSWORD says (``PUBLIC_ENDPOINTS`` in
:mod:`tiktok.web.security`), and it serves nothing but the files of live publications: a token and a name as the
publisher makes them, of a publication not yet withdrawn. No listing (``/published/`` and ``/published/<token>/``
are unknown addresses), no hidden file, no other path, nothing a link points to; the same 404 for all of them, so
an answer never tells a token that was from one that never was. The Content-Type comes from the name; whole files
only (TikTok's pull reads each file once; no Range). The folder store's files are read from ``MEDIA_DIR/.published``,
an S3 store's are streamed from the bucket (for when no custom domain fronts it, as in emulated mode). The Host
allow-list still applies: the public host goes in ALLOWED_HOSTS.

The app's background runner calls :func:`sweep_published` each round; it sweeps at most once an hour.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Callable

from flask import Blueprint, Flask, Response, abort, current_app, send_file

from tiktok.config import Settings
from tiktok.media.publishing import Publisher, public_url, publisher_for, sweep_leftovers
from tiktok.media.store import MediaStoreError, MediaStoreSettings, lazy_media_store

log = logging.getLogger(__name__)
bp = Blueprint("published", __name__)

EXTENSION = "tiktok_published"  # app.extensions: the publisher the route reads through
LAST_SWEEP = "tiktok_published_last_sweep"  # app.extensions: when the runner last swept (the app's clock)
SWEEP_EVERY_S = 3600.0  # a publication is left over after a day (publishing.STALE_S): hourly is soon enough


def register(app: Flask, settings: Settings) -> None:
    """Serve ``/published/`` for the media store of ``settings`` (opened on the first request)."""
    media = lazy_media_store(MediaStoreSettings.from_settings(settings))
    address = public_url(settings) or ""
    app.extensions[EXTENSION] = lambda: publisher_for(media(), address)
    app.register_blueprint(bp)


@bp.route("/published/<token>/<name>", methods=["GET"])
def published_file(token: str, name: str) -> Response:
    publisher: Callable[[], Publisher] = current_app.extensions[EXTENSION]
    try:
        found = publisher().open(token, name)
    except MediaStoreError as exc:  # the bucket cannot be read now: TikTok's pull fails and is retried by a re-run
        log.warning("published media %s/%s cannot be served now: %s", token, name, exc)
        abort(503)
    if found is None:
        abort(404)
    response = send_file(found.stream, mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
                         conditional=False, etag=False)  # streamed in blocks by the server's file wrapper
    response.content_length = found.size
    response.headers["Cache-Control"] = "no-store"  # withdrawn soon: no cache should keep it
    return response


def sweep_published(app: Flask, settings: Settings, clock: Callable[[], float]) -> int | None:
    """The runner's sweep of publications nobody withdrew (a run killed mid-post): at most once an hour; how many
    went, or None when it was not due or could not run (logged, never raised: posting goes on)."""
    at = clock()
    last = app.extensions.get(LAST_SWEEP)
    if last is not None and 0 <= at - last < SWEEP_EVERY_S:
        return None
    app.extensions[LAST_SWEEP] = at
    return sweep_leftovers(settings, now=at)
