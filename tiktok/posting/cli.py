"""``python upload_to_tiktok.py`` (also ``python -m tiktok post``): post what is due in videos_to_upload.json.

Every entry is validated first; bad entries are reported with their number and field and the others still go.
Entries with a ``post_at`` wait for their time (``--watch``, or a cron line every minute or five). Outcomes are
recorded in ``<manifest>.results.json`` beside the manifest, so a re-run resumes unfinished posts and skips finished
ones.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import duration, int_between, positive_float, verbosity_options
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, PRIVACY_LEVELS

DEFAULT_JOBS = 4  # accounts posted at once: TikTok's limits are per token, so accounts do not slow each other
MAX_JOBS = 32

EPILOG = """exit codes: 0 everything due was posted (or already was; scheduled entries wait); 1 some posts failed,
or a scheduled post was missed by more than the grace period; 2 bad input (manifest, file, account or arguments:
the other entries were still posted); 3 an account must be linked again in the app; 4 rate-limited or TikTok
unavailable, or another run is posting some entries: run again later to resume. """ + PRECEDENCE_HELP + """

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
                        help="the manifest (default: MANIFEST_FILE, or videos_to_upload.json); with DATABASE_URL "
                             "set, the queue is in the database instead (add files with python -m tiktok db import)")
    parser.add_argument("--privacy", choices=PRIVACY_LEVELS,
                        help="privacy for entries that name none (default: SELF_ONLY); checked against the "
                             "creator's options before posting")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; no call to TikTok")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON on stdout")
    parser.add_argument("--force", action="store_true",
                        help="re-post an entry whose earlier init may or may not have reached TikTok; post a "
                             "scheduled entry missed beyond the grace period; post even when the results file beside "
                             "the manifest exists but holds no records")
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
                        help="try again entries TikTok failed for good (otherwise only the Posts page's Retry does); "
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
