"""import videos_to_upload.json and post what is due, like upload_to_tiktok.py (cron, or --watch)

Post the videos and photos listed in a manifest (see videos_to_upload.json.example): creator-info pre-flight,
chunked Direct Post, URL pulls, drafts to the inbox, photo posts, status polled to the end.

Every entry is validated first; bad entries are reported with their number and field and the others still go.
Every step is recorded in the store (tiktok.db beside the token file, or the database), so a re-run resumes
unfinished posts and never makes a finished one again.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import command_parser, duration, int_between, positive_float, setting
from tiktok.posting.limits import (DEFAULT_CHUNK_BYTES, DEFAULT_JOBS_BOUND, MAX_CHUNK_BYTES, MAX_JOBS, MIN_CHUNK_BYTES,
                                   PRIVACY_LEVELS)

OWN_SIGNALS = True  # --watch stops on SIGTERM or Ctrl-C with exit 0; a run's own steps are kept whole by the store

EPILOG = """the manifest is an input: each run imports it into the post store (the same entry twice adds nothing),
then posts what is due there, including the posts composed in the app. An entry taken out of the file before it
started is withdrawn; a started or finished post stays in the store's history whatever happens to the file.

exit codes: 0 everything due was posted (or already was; scheduled posts wait); 1 some posts failed, or a
scheduled post was missed by more than the grace period; 2 bad input (manifest, file, account, store or arguments:
the other posts were still posted); 3 an account must be linked again in the app; 4 rate-limited or TikTok
unavailable, or another run is posting some posts: run again later to resume. """ + PRECEDENCE_HELP + """

scheduling: an entry with "post_at": "2026-12-24T18:00:00+01:00" (ISO 8601 with an offset, or Z) is posted by the
first run at or after that time. Run this every minute from cron, or keep it running with --watch:
  * * * * *  cd /path/to/project && .venv/bin/python upload_to_tiktok.py >> posting.log 2>&1
Two runs at once never post an entry twice."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "post", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("manifest", nargs="?", default=None,
                        help="the manifest to import first (default: MANIFEST_FILE, or videos_to_upload.json, when "
                             "it exists); the posts go into the store: tiktok.db beside the token file (STORE_FILE), "
                             "or the database with DATABASE_URL")
    parser.add_argument("--privacy", choices=PRIVACY_LEVELS,
                        help="privacy for entries that name none (default: SELF_ONLY); checked against the "
                             "creator's options before posting")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; no call to TikTok")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON on stdout")
    parser.add_argument("--account", metavar="@NAME|OPEN_ID",
                        help="post only this account's posts (its @name or open_id); the manifest is still imported "
                             "whole and the other accounts' posts wait for a run without --account")
    parser.add_argument("--force", action="store_true",
                        help="re-post a post whose earlier init may or may not have reached TikTok; post a "
                             "scheduled post missed beyond the grace period; post even when the account already has "
                             "a public video with the same caption that the store has no record of")
    parser.add_argument("--poll-timeout", type=positive_float, default=600.0, metavar="SECONDS",
                        help="how long to follow each post's status (default 600)")
    parser.add_argument("--poll-interval", type=positive_float, default=1.0, metavar="SECONDS",
                        help="first wait between status checks; each wait is 1.5 times the last, up to 30 s "
                             "(default 1)")
    parser.add_argument("--jobs", type=int_between(1, MAX_JOBS, "accounts at once"), default=None,
                        metavar="N", help="accounts posted at once (default: one per account with posts due, at most "
                                          f"{DEFAULT_JOBS_BOUND}); one account's entries always go in order. "
                                          "TikTok's per-account limits hold whatever N")
    parser.add_argument("--watch", action="store_true",
                        help="keep running: post each entry when its post_at comes (instead of cron); Ctrl-C stops")
    setting(parser, "--grace", env="POST_GRACE", type=duration, metavar="DURATION",
            help="how late a scheduled entry may still be posted, e.g. 30m, 2h (default: POST_GRACE, or 1h); a "
                 "later one is reported as missed and needs --force or a new post_at")
    parser.add_argument("--retry-failed", action="store_true",
                        help="try again posts TikTok failed for good (otherwise only the Posts page's Retry does); "
                             "rate limits and outages are always retried by the next run")
    parser.add_argument("--fix-media", action="store_true",
                        help="send a fixed copy of a video TikTok would refuse for a reason re-encoding fixes "
                             "(codec, container, frame rate, picture size, file size): H.264 + AAC in MP4, written "
                             "once beside the original as NAME.tiktok.mp4 and reused by later runs; the original is "
                             "kept, and the post stays the same post (one line says what changed)")
    parser.add_argument("--chunk-size", type=int_between(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, "bytes (TikTok's chunk "
                                                          "limits)"), default=DEFAULT_CHUNK_BYTES, metavar="BYTES",
                        help=f"chunk size for files over 64 MB, {MIN_CHUNK_BYTES:,}-{MAX_CHUNK_BYTES:,} "
                             f"(default {DEFAULT_CHUNK_BYTES:,})")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import sys
    from pathlib import Path

    from tiktok.auth.names import resolve_from
    from tiktok.media.doctor.copies import FixedCopies
    from tiktok.posting.command import PostCommand, run as run_posting  # requests, PyAV: only once parsed
    from tiktok.posting.runner import RunOptions

    ctx.errors = sys.stderr if opts.json else sys.stdout  # this command's lines, an error's too, go to stdout
    settings = ctx.settings
    options = RunOptions(jobs=opts.jobs, grace_s=settings.posting.post_grace_s, force=opts.force,
                         retry_failed=opts.retry_failed, privacy=opts.privacy, poll_timeout_s=opts.poll_timeout,
                         poll_interval_s=opts.poll_interval, chunk_size=opts.chunk_size,
                         user_id=resolve_from([opts.account], ctx.services.store)[0] if opts.account else None)
    return run_posting(PostCommand(options=options, manifest=Path(opts.manifest) if opts.manifest else None,
                                   dry_run=opts.dry_run, json=opts.json, watch=opts.watch,
                                   media_doctor=FixedCopies(fix=opts.fix_media),
                                   after_runs=lambda store: alerts_after_runs(settings, store)), settings)


def alerts_after_runs(settings, store):
    """The run's alerts (:mod:`tiktok.alerts`, NOTIFY_URLS and WEBHOOK_URLS): built once, with the run's store, before
    its first run (so the channels are known to the store before the run records an event: a channel first seen
    starts at the newest one), and told as each run ends: the one run, or every round of --watch. None when no
    channel is set. An alert that cannot go is a logged line and a later retry, never the run's exit status."""
    import logging

    if not settings.alerts.enabled:
        return None
    log = logging.getLogger("tiktok.alerts")
    try:
        from tiktok.alerts.deliver import Alerts
        alerts = Alerts.from_settings(settings, store, clock=store.clock)
    except Exception as exc:  # noqa: BLE001 - alerts never stop a posting run
        log.warning("alerts could not start, so this run sends none (the next run or the app sends them): %s", exc)
        return None
    if alerts is None:
        return None

    def tell() -> None:
        try:
            alerts.tick()
        except Exception:  # tick() never raises by contract; a run must not end in a traceback if it did
            log.exception("alerts: the tick failed")
    return tell
