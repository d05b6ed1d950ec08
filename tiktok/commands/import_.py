"""import posts from a CSV (or a videos_to_upload.json): every row checked, the good ones saved

Each row is checked as a post (its account by @name or open_id, the creator's options from TikTok, the media, the
schedule), and every error names its row and column. --dry-run saves nothing. A real import saves the good rows
and leaves the bad ones out: fix the rows it names and import the file again; rows already saved are not added
twice, and importing the same file again adds nothing.

CSV columns (a header row names them; only account and media are required): account, caption, tags, media (a video
file path, an https video URL, a media store key, or image URLs separated by |), post_at (such as
2026-12-03T09:00:00+01:00; empty: the next run), privacy, draft, title, disable_comment, disable_duet,
disable_stitch, is_aigc, brand_content_toggle, brand_organic_toggle (yes/no; empty: not set).
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes: 0 every row is good (and, without --dry-run, saved); 2 a row is bad (the good ones are
saved unless --dry-run), or the file cannot be read; 4 the store cannot be reached now."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "import", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("file", metavar="FILE", help="a .csv file, or a .json manifest (videos_to_upload.json's "
                                                     "format)")
    parser.add_argument("--dry-run", action="store_true", help="check every row and say what would be saved; "
                                                               "save nothing")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from tiktok.exitcodes import ExitStatus
    from tiktok.logs import echo
    from tiktok.posting.csvimport import Lookup, check_file, open_checks, save
    from tiktok.posting.manifest import read_manifest

    path = Path(opts.file)
    raw = read_manifest(path)  # ManifestError (exit 2) names the file
    settings = ctx.settings
    from tiktok.store.base import open_token_store
    open_token_store(settings).load()  # accounts that cannot be read: that error (exit 2, or 4 for an outage) first
    checks = open_checks(settings, ctx.world_clock())  # emulated: the emulator's now (tiktok.clock)
    try:
        plan = check_file(str(path), raw, Lookup(checks), folder=path.absolute().parent,
                          now=ctx.world_clock())
    finally:
        checks.close()
    for row in plan.rows:
        for line in row.errors:
            echo(f"{ctx.prefix}error: {line}")
        for line in row.warnings:
            echo(f"{ctx.prefix}warning: {line}")
    if opts.dry_run:
        echo(f"{ctx.prefix}{plan.summary()}; dry run: nothing was saved")
    else:
        from tiktok.store.base import open_store

        store = open_store(settings, clock=ctx.clock)
        try:
            result = save(store, plan)
        finally:
            store.close()
        saved = len(result.added) + len(result.revived)
        echo(f"{ctx.prefix}{plan.summary()}; saved {saved:,} new post(s) to {store.where}"
             + (f"; {plan.counts()['bad']:,} bad {plan.label}(s) left out" if plan.counts()["bad"] else ""))
    return ExitStatus.BAD_INPUT if plan.counts()["bad"] else ExitStatus.OK
