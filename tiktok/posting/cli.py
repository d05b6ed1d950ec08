"""``python upload_to_tiktok.py [MANIFEST]`` (also ``python -m tiktok post``): import the manifest into the post
store, then post what is due there.

Every entry is validated first; bad entries are reported with their number and field and the others still go.
Posts with a ``post_at`` wait for their time (``--watch``, or a cron line every minute or five). Every step is
recorded in the store (``tiktok.db`` beside the token file, or the database), so a re-run resumes unfinished posts
and never makes a finished one again.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import duration, int_between, positive_float, verbosity_options
from tiktok.posting.limits import (DEFAULT_CHUNK_BYTES, DEFAULT_JOBS, MAX_CHUNK_BYTES, MAX_JOBS, MIN_CHUNK_BYTES,
                                   PRIVACY_LEVELS)

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

def build_parser(prog: str = "upload_to_tiktok.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, epilog=EPILOG, parents=[verbosity_options()], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Post the videos and photos listed in a manifest (see videos_to_upload.json.example): "
                    "creator-info pre-flight, chunked Direct Post, URL pulls, drafts to the inbox, photo posts, "
                    "status polled to the end.")
    parser.add_argument("manifest", nargs="?", default=None, type=Path,
                        help="the manifest to import first (default: MANIFEST_FILE, or videos_to_upload.json, when "
                             "it exists); the posts go into the store: tiktok.db beside the token file (STORE_FILE), "
                             "or the database with DATABASE_URL")
    parser.add_argument("--privacy", choices=PRIVACY_LEVELS,
                        help="privacy for entries that name none (default: SELF_ONLY); checked against the "
                             "creator's options before posting")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; no call to TikTok")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON on stdout")
    parser.add_argument("--force", action="store_true",
                        help="re-post a post whose earlier init may or may not have reached TikTok; post a "
                             "scheduled post missed beyond the grace period; post even when the account already has "
                             "a public video with the same caption that the store has no record of")
    parser.add_argument("--poll-timeout", type=positive_float, default=600.0, metavar="SECONDS",
                        help="how long to follow each post's status (default 600)")
    parser.add_argument("--poll-interval", type=positive_float, default=1.0, metavar="SECONDS",
                        help="first wait between status checks; each wait is 1.5 times the last, up to 30 s "
                             "(default 1)")
    parser.add_argument("--jobs", type=int_between(1, MAX_JOBS, "accounts at once"), default=DEFAULT_JOBS,
                        metavar="N", help=f"accounts posted at once (default {DEFAULT_JOBS}); one account's "
                                          "entries always go in order. TikTok's per-account limits hold whatever N")
    parser.add_argument("--watch", action="store_true",
                        help="keep running: post each entry when its post_at comes (instead of cron); Ctrl-C stops")
    parser.add_argument("--grace", type=duration, default=None, metavar="DURATION",
                        help="how late a scheduled entry may still be posted, e.g. 30m, 2h (default: POST_GRACE, or "
                             "1h); a later one is reported as missed and needs --force or a new post_at")
    parser.add_argument("--retry-failed", action="store_true",
                        help="try again posts TikTok failed for good (otherwise only the Posts page's Retry does); "
                             "rate limits and outages are always retried by the next run")
    parser.add_argument("--chunk-size", type=int_between(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, "bytes (TikTok's chunk "
                                                          "limits)"), default=DEFAULT_CHUNK_BYTES, metavar="BYTES",
                        help=f"chunk size for files over 64 MB, {MIN_CHUNK_BYTES:,}-{MAX_CHUNK_BYTES:,} "
                             f"(default {DEFAULT_CHUNK_BYTES:,})")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "upload_to_tiktok.py") -> int:
    args = build_parser(prog).parse_args(argv)
    from tiktok.logs import configure_logging
    from tiktok.posting.command import run  # the heavy part (requests, PyAV) loads only once the arguments parse

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)

    return run(args)
