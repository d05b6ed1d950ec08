"""fix videos and photos TikTok would refuse (media fix FILE...); list the media library, remove unused uploads

fix is the media doctor (media fix --help). list shows every file of the media library (MEDIA_DIR: the composer's
uploads): its name, size, length, TikTok's checks and the posts that use it. clean removes the uploads no post has
used for MEDIA_KEEP_UNUSED_DAYS (default 3 days; the app does it every hour too): a file a queued, scheduled,
in-flight or failed post uses is never removed. It also removes what interrupted work left for more than a day:
media published for TikTok to pull, temporary files, unused local copies of stored media.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser, positive_float

EPILOG = """exit codes: 0 done (fix: every file was fixed or needed nothing); 1 clean could not delete a file (it
tries again next time); 2 fix: some file cannot be fixed (the others were still fixed); 4 the post store cannot be
reached (try later)."""
FIX_DOC = """re-encode or convert what TikTok would refuse

The media doctor. A video that fails TikTok's checks for a reason re-encoding fixes (container, codec, frame rate
outside 23-60 fps, a side outside 360-4096 px, over 4 GB) is re-encoded to H.264 + AAC in MP4 within the limits.
A photo that is PNG, HEIC or another format TikTok does not take, or larger than 1080p or 20 MB, is converted to
JPEG and resized. Originals are kept: each fixed file is written beside its original as NAME.tiktok.mp4 or
NAME.tiktok.jpg (or into --out). Each file gets one line: what was changed and why, and where the fixed file is.
"""
FIX_EPILOG = """not fixable: a video under 3 s or over the limit (10 min, or --max-duration), a picture too narrow to
fit 360-4096 px a side without cropping, a file that is not a video or image. Those are reported; nothing is
written for them.

exit codes: 0 every file was fixed or needed nothing; 2 some file cannot be fixed (the others were still fixed)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "media", __doc__, parents=parents, epilog=EPILOG)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    # -v after the action too, without its default undoing a -v given before it
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="log HTTP-level detail to stderr")
    fix = command_parser(actions, "fix", FIX_DOC, parents=[verbose], epilog=FIX_EPILOG)
    fix.add_argument("files", nargs="+", metavar="FILE", help="videos and photos, in any mix")
    fix.add_argument("--out", metavar="DIR", default=None,
                     help="write the fixed files into this folder (default: beside each original)")
    fix.add_argument("--max-duration", type=positive_float, default=None, metavar="SECONDS",
                     help="the creator's longest video (creator_info's max_video_post_duration_sec); a longer one "
                          "is reported as not fixable (default: the API's 600)")
    command_parser(actions, "list", "every file of the media library (MEDIA_DIR) and the posts that use it",
                   parents=[verbose])
    clean = command_parser(actions, "clean", "remove the uploads no post has used for MEDIA_KEEP_UNUSED_DAYS (default "
                           "3 days); a file a queued, scheduled, in-flight or failed post uses stays",
                           parents=[verbose])
    clean.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """fix: one outcome line per file, then one indented line per change; list: one line per file; clean: one
    outcome line per file removed, then one line in all."""
    if opts.action == "fix":
        return _fix(opts)
    return _library(opts, ctx)


def _fix(opts: argparse.Namespace) -> int:
    from pathlib import Path

    from tiktok.errors import FileProblem
    from tiktok.exitcodes import BAD_INPUT, DONE, SKIPPED, exit_status, outcome_line
    from tiktok.logs import echo
    from tiktok.media.doctor import MediaNotFixable, fix_photo, fix_video, is_image

    if opts.out is not None and not Path(opts.out).is_dir():
        raise FileProblem(opts.out, "not a folder (--out): create it first")
    outcomes: list[str] = []
    taken: set[Path] = set()  # the fixed files written so far: two originals named alike get one each
    for name in opts.files:
        if is_image(name):
            photo = fix_photo(name, out_dir=opts.out, taken=taken)
            outcome = BAD_INPUT if photo.problem else DONE if photo.output else SKIPPED
            output, changes = photo.output, photo.changes
            detail = f"cannot be fixed: {photo.problem}" if photo.problem else None
        else:
            try:
                video = fix_video(name, out_dir=opts.out, max_duration_s=opts.max_duration, taken=taken)
            except MediaNotFixable as bad:
                outcome, output, changes, detail = BAD_INPUT, None, (), bad.reason
            else:
                outcome = DONE if video.output else SKIPPED
                output, changes, detail = video.output, video.changes, None
        detail = detail or (f"fixed: {output}" if output else "nothing to fix: TikTok takes it as it is")
        echo(outcome_line(outcome, name, detail))
        for change in changes:
            echo(f"    {change}")
        outcomes.append(outcome)
    return exit_status(outcomes)


def _library(opts: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from tiktok.exitcodes import DONE, FAILED, SKIPPED, ExitStatus, exit_status, outcome_line
    from tiktok.logs import echo
    from tiktok.media import library
    from tiktok.store.base import open_store
    from tiktok.text import count, duration, size

    settings = ctx.settings
    folder = Path(settings.media_dir).resolve()
    keep_s = settings.media.keep_unused_s
    store = open_store(settings, clock=ctx.clock)
    try:
        if opts.action == "list":
            library.adopt(store, folder)
            for line in library.listing(store):
                echo(line)
            files, total = store.media_totals()
            echo(f"{count(files, 'file')}, {size(total)} in {folder}")
            return ExitStatus.OK
        if keep_s is None:
            echo(outcome_line(SKIPPED, str(folder), "MEDIA_KEEP_UNUSED_DAYS=0 keeps every upload: nothing removed"))
            return ExitStatus.OK
        if opts.dry_run:
            library.adopt(store, folder)
            names = library.unused(store, now=ctx.clock(), keep_s=keep_s)
            for media in names:
                echo(outcome_line(SKIPPED, media.label, f"would be removed: {_facts(media, size)}"))
            echo(f"{count(len(names), 'unused upload')} older than {duration(keep_s)} would be removed from {folder}")
            return ExitStatus.OK
        cleaned = library.clean(store, folder, now=ctx.clock(), keep_s=keep_s)
    finally:
        store.close()
    from tiktok.media.publishing import sweep_leftovers
    left = sweep_leftovers(settings, now=ctx.clock())  # logged when the store cannot be used; never raised
    for media in cleaned.removed:
        echo(outcome_line(DONE, media.label, f"removed: {_facts(media, size)}, unused for more than "
                                             f"{duration(keep_s)}"))
    for problem in cleaned.failed:
        echo(outcome_line(FAILED, problem, "could not be deleted; the next clean tries again"))
    echo(f"removed {count(len(cleaned.removed), 'unused upload')} ({size(cleaned.freed_bytes)}) from {folder}")
    if left:
        echo(f"removed {count(left, 'leftover')} of interrupted work a day old (publications for TikTok to pull, "
             "temporary files, unused local copies of stored media)")
    return exit_status([FAILED] * len(cleaned.failed) + [DONE])


def _facts(media, size) -> str:
    """The stored name (when the line names the original one) and the size."""
    return f"{media.name}, {size(media.size_bytes)}" if media.original else size(media.size_bytes)
