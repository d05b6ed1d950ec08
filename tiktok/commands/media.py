"""fix videos and photos TikTok would refuse (media fix FILE...)

The media doctor. A video that fails TikTok's checks for a reason re-encoding fixes (container, codec, frame rate
outside 23-60 fps, a side outside 360-4096 px, over 4 GB) is re-encoded to H.264 + AAC in MP4 within the limits.
A photo that is PNG, HEIC or another format TikTok does not take, or larger than 1080p or 20 MB, is converted to
JPEG and resized. Originals are kept: each fixed file is written beside its original as NAME.tiktok.mp4 or
NAME.tiktok.jpg (or into --out). Each file gets one line: what was changed and why, and where the fixed file is.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser, positive_float

EPILOG = """not fixable: a video under 3 s or over the limit (10 min, or --max-duration), a picture too narrow to
fit 360-4096 px a side without cropping, a file that is not a video or image. Those are reported; nothing is
written for them.

exit codes: 0 every file was fixed or needed nothing; 2 some file cannot be fixed (the others were still fixed)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "media", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("action", choices=("fix",), help="fix: re-encode or convert what TikTok would refuse")
    parser.add_argument("files", nargs="+", metavar="FILE", help="videos and photos, in any mix")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write the fixed files into this folder (default: beside each original)")
    parser.add_argument("--max-duration", type=positive_float, default=None, metavar="SECONDS",
                        help="the creator's longest video (creator_info's max_video_post_duration_sec); a longer "
                             "one is reported as not fixable (default: the API's 600)")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """One outcome line per file, then one indented line per change."""
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
