"""``python upload_to_tiktok.py``: post the videos and photos listed in videos_to_upload.json.

Every entry is validated first; bad entries are reported with their number and field and the others still go.
Outcomes are recorded in ``<manifest>.results.json`` beside the manifest, so a re-run resumes unfinished posts and
skips finished ones.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import int_between, positive_float, verbosity_options
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, PRIVACY_LEVELS

EPILOG = """exit codes: 0 everything posted (or already posted); 1 some posts failed; 2 bad input (manifest,
file, account or arguments: the other entries were still posted); 3 an account must be linked again in the app;
4 rate-limited or TikTok unavailable, or another run is posting some entries: run again later to resume. """ + PRECEDENCE_HELP

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upload_to_tiktok.py", epilog=EPILOG, parents=[verbosity_options()], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Post the videos and photos listed in a manifest (see videos_to_upload.json.example): "
                    "creator-info pre-flight, chunked Direct Post, URL pulls, drafts to the inbox, photo posts, "
                    "status polled to the end.")
    parser.add_argument("manifest", nargs="?", default="videos_to_upload.json", type=Path,
                        help="the manifest (default: videos_to_upload.json)")
    parser.add_argument("--privacy", choices=PRIVACY_LEVELS,
                        help="privacy for entries that name none (default: SELF_ONLY); checked against the "
                             "creator's options before posting")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; no call to TikTok")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON on stdout")
    parser.add_argument("--force", action="store_true",
                        help="re-post an entry whose earlier init may or may not have reached TikTok; post even "
                             "when the results file beside the manifest exists but holds no records")
    parser.add_argument("--poll-timeout", type=positive_float, default=600.0, metavar="SECONDS",
                        help="how long to follow each post's status (default 600)")
    parser.add_argument("--poll-interval", type=positive_float, default=3.0, metavar="SECONDS",
                        help="first wait between status checks; it grows to 30 s (default 3)")
    parser.add_argument("--chunk-size", type=int_between(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, "bytes (TikTok's chunk "
                                                          "limits)"), default=DEFAULT_CHUNK_BYTES, metavar="BYTES",
                        help=f"chunk size for files over 64 MB, {MIN_CHUNK_BYTES:,}-{MAX_CHUNK_BYTES:,} "
                             f"(default {DEFAULT_CHUNK_BYTES:,})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tiktok.logs import configure_logging
    from tiktok.posting.command import run  # the heavy part (requests, PyAV) loads only once the arguments parse

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)

    return run(args)
