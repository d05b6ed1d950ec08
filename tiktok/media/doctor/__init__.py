"""The media doctor: turns a video or photos TikTok would refuse into files it takes, keeping the originals.

:func:`fix_video` probes a video (:func:`tiktok.posting.media.probe`), plans the fix (:mod:`.plan`), re-encodes
it (:mod:`.reencode`) into ``NAME.tiktok.mp4`` beside it (or in ``out_dir``), then checks the result with the same
:func:`tiktok.posting.media.check_video` a post runs. :func:`fix_photos` does the same for a photo post, converting
to JPEG and resizing (:mod:`.photos`) into ``NAME.tiktok.jpg``, and gives a verdict for every photo: TikTok refuses
a whole carousel for one bad photo without saying which (Postiz #1875).
What no re-encode fixes (too short, too long, not a video or image) raises :class:`MediaNotFixable` with every
reason, and nothing is written.

The doctor builds on posting's media checks, so it sits above them: tiktok.posting never imports it (the import
rules, tests/test_import_rules.py). The media store beside it (tiktok.media.store) is plumbing every layer reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import av

from tiktok.errors import FileProblem
from tiktok.media.doctor.photos import read_image, write_jpeg
from tiktok.media.doctor.plan import MAX_PHOTOS, Change, plan_photo, plan_video
from tiktok.media.doctor.reencode import reencode
from tiktok.posting.media import MediaError, check_video, probe

FIXED_SUFFIX = ".tiktok"  # clip.mov -> clip.tiktok.mp4, photo.png -> photo.tiktok.jpg


class MediaNotFixable(FileProblem):
    """Media TikTok would refuse for a reason no re-encode or conversion fixes; ``problems`` names each one.
    Nothing was written."""

    def __init__(self, path: object, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(path, "cannot be fixed: " + "; ".join(self.problems))


@dataclass(frozen=True)
class VideoFix:
    """What the doctor did to one video: ``output`` is the fixed file, or None when TikTok takes it as it is."""

    source: Path
    output: Path | None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class PhotoFix:
    """One photo's verdict: fixed into ``output`` (``changes`` say what and why), fine as it is (no changes),
    or not fixable (``problem`` says why)."""

    source: Path
    output: Path | None = None
    changes: tuple[Change, ...] = ()
    problem: str | None = None

    @property
    def file(self) -> Path:
        """The file to post: the fixed one, or the original when it needed nothing."""
        return self.output or self.source

    @property
    def verdict(self) -> str:
        if self.problem:
            return f"cannot be fixed: {self.problem}"
        if self.output:
            return f"fixed into {self.output}: " + "; ".join(map(str, self.changes))
        return "TikTok takes it as it is"


@dataclass(frozen=True)
class PhotoSetFix:
    """Every photo of a post with its verdict, in order; ``problem`` is about the set itself (too many)."""

    photos: tuple[PhotoFix, ...]
    problem: str | None = None

    @property
    def files(self) -> list[Path]:
        return [photo.file for photo in self.photos]

    def raise_if_unfixable(self) -> None:
        """MediaNotFixable naming every photo that cannot be fixed (and the set's own problem), if any."""
        bad = [f"{p.source.name}: {p.problem}" for p in self.photos if p.problem]
        if self.problem or bad:
            where = self.photos[0].source.parent if self.photos else Path(".")
            raise MediaNotFixable(where, [*([self.problem] if self.problem else []), *bad])


def fix_video(path: str | Path, *, out_dir: str | Path | None = None, max_duration_s: float | None = None,
              taken: set[Path] | None = None) -> VideoFix:
    """Re-encode the video at ``path`` when TikTok would refuse it for a reason re-encoding fixes; the original
    stays. ``max_duration_s`` is the creator's ``max_video_post_duration_sec`` when known; ``taken`` as for
    :func:`fixed_path`."""
    path = Path(path)
    try:
        info = probe(path)
    except MediaError as bad:
        raise MediaNotFixable(path, [bad.reason]) from None
    plan = plan_video(info, max_duration_s=max_duration_s)
    if not plan.fixable:
        raise MediaNotFixable(path, plan.unfixable)
    if not plan.needed:
        return VideoFix(path, None)
    target = fixed_path(path, ".mp4", out_dir, taken)
    try:
        reencode(path, target, plan)
    except av.FFmpegError as bad:  # a damaged file found part way, say
        raise MediaNotFixable(path, [f"FFmpeg could not re-encode it ({bad})"]) from None
    except OSError as bad:
        raise FileProblem(target.parent, f"cannot write the fixed video here: {bad.strerror or bad}") from None
    still = check_video(replace(probe(target), path=""), max_duration_s=max_duration_s)
    if still:  # an unknown duration turned out too short or too long, say
        target.unlink(missing_ok=True)
        raise MediaNotFixable(path, still)
    return VideoFix(path, target, plan.changes)


def fix_photos(paths: Sequence[str | Path], *, out_dir: str | Path | None = None) -> PhotoSetFix:
    """Every photo of a post made fit for TikTok where it can be, each with its verdict (nothing raised: see
    :meth:`PhotoSetFix.raise_if_unfixable`)."""
    taken: set[Path] = set()
    photos = tuple(fix_photo(path, out_dir=out_dir, taken=taken) for path in paths)
    too_many = (f"{len(photos)} photos: TikTok takes at most {MAX_PHOTOS} in a post" if len(photos) > MAX_PHOTOS
                else None)
    return PhotoSetFix(photos, too_many)


def fix_photo(path: str | Path, *, out_dir: str | Path | None = None, taken: set[Path] | None = None) -> PhotoFix:
    """One photo converted to JPEG and resized when TikTok would refuse it; the original stays. ``taken``:
    the files already written for the same post, so a.png and a.heic do not both become a.tiktok.jpg."""
    path = Path(path)
    try:
        image = read_image(path)
    except OSError as bad:
        return PhotoFix(path, problem=f"cannot read: {bad.strerror or bad}")
    plan = plan_photo(image.format, image.width, image.height, image.size_bytes, frames=image.frames)
    if plan.unfixable:
        return PhotoFix(path, problem=plan.unfixable)
    if not plan.needed:
        return PhotoFix(path)
    target = fixed_path(path, ".jpg", out_dir, taken)
    try:
        write_jpeg(path, target, plan.width, plan.height)
    except OSError as bad:  # a truncated or damaged image, or a folder it cannot be written to
        return PhotoFix(path, problem=f"could not be converted to {target}: {bad.strerror or bad}")
    return PhotoFix(path, target, plan.changes)


def is_image(path: str | Path) -> bool:
    """True when Pillow opens ``path`` as an image (a photo, not a video)."""
    try:
        return read_image(Path(path)).format is not None
    except OSError:
        return False


def fixed_path(source: Path, suffix: str, out_dir: str | Path | None = None,
               taken: set[Path] | None = None) -> Path:
    """Where the fixed copy of ``source`` goes: ``NAME.tiktok`` + ``suffix`` beside it, or in ``out_dir``; with
    ``taken``, the first of NAME.tiktok, NAME-2.tiktok, ... not in it (then added to it)."""
    folder = Path(out_dir) if out_dir is not None else source.parent
    target, n = folder / f"{source.stem}{FIXED_SUFFIX}{suffix}", 1
    while taken is not None and target in taken:
        n += 1
        target = folder / f"{source.stem}-{n}{FIXED_SUFFIX}{suffix}"
    if taken is not None:
        taken.add(target)
    return target
