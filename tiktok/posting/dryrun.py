"""``upload_to_tiktok.py --dry-run``: every entry checked as a real run would meet it now; nothing posted or stored.

Every entry is checked in full and every problem listed in one go (a schema error hides nothing after it, and an
invalid entry's account and file are still looked at): the schema; what the store knows (posted or in the inbox, in
flight, failed waiting for a person, withdrawn, cancelled, a repeat of an earlier entry); the schedule (due,
scheduled, missed beyond the grace period); the account (connected, linked through the emulator or TikTok as this
run talks to); the file (TikTok's media limits, the chunk plan); the creator's options (one creator_info call per
account: privacy offered, maximum duration, interactions turned off; when TikTok cannot be reached that is said and
the rest still checked). Each entry ends with what a real run would do: post, skip, resume, wait or refuse, and why;
the store's other posts (the app's, other manifests') are planned alike. Exit 2 when any would be refused, else 0.

The decisions are the real run's own (the importer's keys, :func:`tiktok.posting.runner.plan_posts`). Nothing is
written: the post store is only read (never created or migrated); creator_info is the one call, its access token
refreshed first when close to expiry (under the token file's lock, as every command does).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from tiktok.errors import StoreError, TikTokError
from tiktok.exitcodes import SCHEDULED, SKIPPED, TRY_LATER, ExitStatus
from tiktok.posting.caption import build_caption
from tiktok.posting.chunks import ChunkPlanError, plan_chunks
from tiktok.posting.client import CreatorInfo, PostingClient, PrivacyNotOffered, choose_privacy
from tiktok.posting.importer import keyed
from tiktok.posting.manifest import ManifestError, PostRequest, parse_manifest, read_manifest, validate_manifest
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.policy import entry_stop
from tiktok.posting.runner import RunOptions, describe, plan_posts, work_for
from tiktok.store.base import ENDED, Post, open_store, open_token_store, token_store_where
from tiktok.store.records import DELIVERED, PostRecord, State
from tiktok.text import count, moment, relative, size

POST, SKIP, RESUME, WAIT, REFUSE = "post", "skip", "resume", "wait", "refuse"  # what a real run would do
WITHDRAW = "withdraw"  # a post of this file's that left it before it started (the import withdraws it)
NOT_CHECKED = ("Not checked here: TikTok's posting caps beyond what creator_info says, whether a pulled URL's "
               "domain is verified for the app (unless VERIFIED_URL_PREFIXES lists the app's verified domains and URL "
               "prefixes), and (for a new post of an account that granted video.list) the look for the same caption "
               "among its public videos; a real run checks these before it posts.")


def dry_run(manifest: Path | None, settings, *, privacy: str | None, chunk_size: int, say,
            grace_s: float | None = None, force: bool = False, retry_failed: bool = False,
            clock: Callable[[], float] = time.time) -> int:
    """Check ``manifest`` (None: only the store's posts) as a run with these options would meet it now."""
    prefix = "[emulator] " if settings.tiktok.emulated else ""
    tell = lambda text: say(prefix + text)  # noqa: E731 - every line says where it would go
    options = RunOptions(grace_s=settings.posting.post_grace_s if grace_s is None else grace_s, force=force,
                         retry_failed=retry_failed, privacy=privacy, chunk_size=chunk_size)
    checks = Checks(settings, options, clock())
    try:
        checks.open()
        reports, keys = _manifest_reports(manifest, checks) if manifest is not None else ([], set())
        reports += _store_reports(checks, keys, manifest)
    except ManifestError as exc:
        tell(f"error: {exc}")
        return ExitStatus.BAD_INPUT
    finally:
        checks.close()
    what = str(manifest) if manifest is not None else \
        f"the store (there is no manifest at {settings.posting.manifest_path})"
    tell(f"dry run of {what} at {moment(checks.now)}: nothing is posted or stored")
    for line in checks.problems:
        tell(f"problem: {line}")
    for line in checks.notes:
        tell(line)
    for report in reports:
        for line in report.lines():
            tell(line)
    verdicts = Counter(report.final for report in reports)
    counted = ", ".join(f"{verdicts[v]} {v}" for v in (POST, RESUME, WAIT, SKIP, REFUSE, WITHDRAW) if verdicts[v])
    tell(f"dry run: {counted or 'nothing to do'}; nothing was posted or stored")
    tell(NOT_CHECKED)
    return ExitStatus.BAD_INPUT if verdicts[REFUSE] or checks.problems else ExitStatus.OK


@dataclass
class Report:
    """What the dry run found for one entry (or one post of the store) and what a real run would do with it."""

    head: str
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    verdict: str = POST
    why: str = ""

    def decide(self, verdict: str, why: str = "") -> None:
        self.verdict, self.why = verdict, why

    @property
    def final(self) -> str:
        """A problem makes any entry a real run would send (or wait for) a refusal."""
        return REFUSE if self.problems and self.verdict in (POST, RESUME, WAIT, REFUSE) else self.verdict

    def lines(self) -> list[str]:
        """The head, what was checked, the problems (one alone goes in the verdict), and the verdict."""
        problems = self.problems if len(self.problems) > 1 else []
        if self.final == REFUSE:
            why = self.problems[0] if len(self.problems) == 1 else f"{len(self.problems)} problems (above)"
            end = f"refuse it: {why}"
        elif self.verdict == WAIT or self.why.startswith("as "):  # wait until ..., skip it as done: ...
            end = f"{self.verdict}{'' if self.verdict == WAIT else ' it'} {self.why}"
        else:
            verb = {POST: "post it", RESUME: "resume it", SKIP: "skip it", WITHDRAW: "withdraw it"}[self.verdict]
            end = verb + (f": {self.why}" if self.why else "")
        return [self.head, *(f"  {n}" for n in self.notes), *(f"  problem: {p}" for p in problems),
                f"  a real run would {end}"]


@dataclass(frozen=True)
class Creator:
    """creator_info's answer for one account, or why there is none."""

    info: CreatorInfo | None = None
    refused: str | None = None  # the account cannot post now (relink, ban): a real run stops its posts
    later: str | None = None  # TikTok's caps: a real run tries again later
    unknown: str | None = None  # TikTok could not be reached: the creator's options are not checked


class Checks:
    """What every entry is checked against: the accounts, the post store, creator_info (asked once per account)."""

    def __init__(self, settings, options: RunOptions, now: float) -> None:
        self.settings, self.options, self.now = settings, options, now
        self.problems: list[str] = []  # the run's own (the token file, the store, the manifest's shape)
        self.notes: list[str] = []
        self.tokens = self.where = None  # set by open()
        self.accounts: dict | None = None
        self.posts = None
        self.creators: dict[str, Creator] = {}
        self._services = None
        self._media = None

    def media(self):
        """The media store (MEDIA_STORE), opened when a post first names one of its videos."""
        if self._media is None:
            from tiktok.media.store import MediaStoreSettings, open_media_store
            self._media = open_media_store(MediaStoreSettings.from_settings(self.settings))
        return self._media

    def open(self) -> None:
        self.tokens = open_token_store(self.settings)
        self.where = token_store_where(self.settings, self.tokens)
        try:
            self.accounts = self.tokens.load()
        except TikTokError as exc:
            self.problems.append(f"the accounts cannot be read ({exc}); no entry's account was checked")
        if not self.settings.store.database_url and not self.settings.store.store_path.exists():
            self.notes.append(f"no post store yet at {self.settings.store.store_path}: nothing has been posted from it")
            return
        try:
            self.posts = open_store(self.settings, migrate=False)
        except StoreError as exc:
            self.problems.append(f"the post store cannot be read ({exc}); each entry is checked as if it were new")

    def close(self) -> None:
        if self.posts is not None:
            self.posts.close()

    def account_problems(self, open_id: str) -> list[str]:
        """Why a real run could not act as ``open_id`` (its own checks, and a grant that is gone)."""
        if self.accounts is None:
            return ["the account was not checked: the accounts cannot be read (above)"]
        account = self.accounts.get(open_id)
        if account is None:
            return [f'field "user_id": no connected account {open_id} in {self.where}; log in with the app first']
        if account.emulated != self.settings.tiktok.emulated:
            where = "the emulator" if account.emulated else "TikTok"
            return [f'field "user_id": account {open_id} was linked through {where}; this run talks to '
                    f"{self.settings.environment}"]
        if account.relink_reason or account.refresh_expires_at <= self.now:
            why = account.relink_reason or "its refresh token has expired"
            return [f"account {account.label} must log in again in the app: {why}"]
        return []

    def creator(self, open_id: str) -> Creator:
        if open_id not in self.creators:
            self.creators[open_id] = self._ask_creator(open_id)
        return self.creators[open_id]

    def _ask_creator(self, open_id: str) -> Creator:
        from tiktok.auth.access import call_with_token
        from tiktok.services import build_services  # requests and the API client: only once an entry needs them

        if self._services is None:
            self._services = build_services(self.settings, store=self.tokens)
        client = PostingClient(self._services.api)
        try:
            return Creator(info=call_with_token(self.tokens, self._services.oauth, open_id, client.creator_info))
        except TikTokError as exc:
            if exc.transient:
                where = "the emulator" if self.settings.tiktok.emulated else "TikTok"
                return Creator(unknown=f"{where} could not be reached ({exc})")
            stop = entry_stop(exc, idempotent=True)
            return Creator(later=stop.detail) if stop.status == TRY_LATER else Creator(refused=stop.detail)


def _manifest_reports(manifest: Path, checks: Checks) -> tuple[list[Report], set[str]]:
    """One report per entry of the file, in file order, and the store keys of its valid entries."""
    data = parse_manifest(manifest, read_manifest(manifest))
    checked = validate_manifest(data, source=str(manifest), base_dir=None,  # paths as written: the import's keys
                                allow_loopback=checks.settings.tiktok.emulated, now=checks.now,
                                verified=checks.settings.media.verified_prefixes)
    items = data["videos"] if isinstance(data, dict) and "videos" in data else data
    checks.problems += [p.message for p in checked.problems if p.index is None]
    valid = {entry.index: entry for entry in checked.entries}
    folders = (manifest.resolve().parent, manifest.absolute().parent)
    first: dict[str, int] = {}
    reports = []
    for index, raw in enumerate(items if isinstance(items, list) else []):
        if index in valid:
            report = _valid_entry(valid[index], checks, folders, first)
        else:
            report = _invalid_entry(index, raw, [p for p in checked.problems if p.index == index], checks, folders)
        report.notes[:0] = [f"warning: {w.message}" for w in checked.warnings if w.index == index]
        reports.append(report)
    return reports, set(first)


def _valid_entry(entry: PostRequest, checks: Checks, folders: tuple[Path, Path], first: dict[str, int]) -> Report:
    key, _, stored = keyed(entry, *folders)
    report = Report(f"entry {entry.index + 1} for {entry.user_id}: {describe(entry)}")
    if key in first:
        report.decide(SKIP, f"it is the same post as entry {first[key] + 1} (every field alike but post_at): "
                            f"posted once, as entry {first[key] + 1}")
        return report
    first[key] = entry.index
    post = _as_imported(checks, key, stored, entry, report)
    _decide(checks, post, report)
    return report


def _invalid_entry(index: int, raw: Any, problems: list, checks: Checks, folders: tuple[Path, Path]) -> Report:
    """The schema's errors, and still the account and the file where their fields are fine."""
    user = raw.get("user_id") if isinstance(raw, dict) else None
    report = Report(f"entry {index + 1}" + (f" for {user}" if isinstance(user, str) else "") + ": not valid")
    report.problems += [p.message for p in problems]
    bad = {p.field for p in problems}
    if isinstance(user, str) and user.strip() and "user_id" not in bad:
        report.problems += checks.account_problems(user)
    path = raw.get("video_path") if isinstance(raw, dict) else None
    if isinstance(path, str) and path and "video_path" not in bad:
        _check_file(checks, folders[0] / path, None, report)
    report.decide(REFUSE)
    return report


def _as_imported(checks: Checks, key: str, stored: dict, entry: PostRequest, report: Report) -> Post:
    """The post as a real run's import would leave it: new, brought back, rescheduled, or as the store has it."""
    post = checks.posts.find(key) if checks.posts is not None else None
    if post is None:
        return Post(id=0, key=key, user_id=entry.user_id, entry=stored, origin="manifest", state=State.QUEUED,
                    board="upcoming", revision=0, change=0, created_at=checks.now, updated_at=checks.now,
                    due_at=entry.due_at)
    report.head += f" (post {post.id} in the store)"
    if post.state == State.WITHDRAWN and post.record is None and post.origin == "manifest":
        report.notes.append("withdrawn earlier (it had left the file); back in the file, it is queued again")
        return replace(post, state=State.QUEUED, entry=stored, due_at=entry.due_at, open=True)
    if post.state == State.QUEUED and post.origin == "manifest" and entry.post_at != post.source_post_at:
        report.notes.append(f"post_at changed in the file: rescheduled from {post.post_at or 'now'}")
        moved = {name: value for name, value in (post.entry or stored).items() if name != "post_at"}
        return replace(post, entry={**moved, **({"post_at": entry.post_at} if entry.post_at else {})},
                       due_at=entry.due_at)
    return post


def _decide(checks: Checks, post: Post, report: Report) -> None:
    """What a real run does with ``post``: the runner's plan, then the publisher's own checks for those it sends."""
    if post.state in ENDED:
        why = "cancelled on the Posts page" if post.state == State.CANCELLED else "withdrawn"
        report.decide(SKIP, f"{why}: no run posts it again (compose it anew to post it)")
        return
    item = work_for(post, checks.settings)
    record = post.record
    if post.entry is None:  # history from an earlier version's results file
        report.decide(SKIP, "already " + ("posted" if record and record.state in DELIVERED else "tried") + " by an "
                      "earlier version (history only): no run posts it again")
        return
    _, settled = plan_posts([item], now=checks.now, options=checks.options)
    if settled:
        outcome = settled[post.id]
        if outcome.status == SKIPPED:
            report.decide(SKIP, _done_text(record) if record is not None else outcome.detail)
            return
        if outcome.status == SCHEDULED:
            report.decide(WAIT, f"until {moment(post.due_at or 0)} ({relative(post.due_at or 0, checks.now)})")
        else:
            report.problems.append(outcome.detail)
            report.decide(REFUSE)
        if item.request is not None and record is None:  # missed, or scheduled: what else is in its way
            _check_content(checks, item.request, report)
    elif record is not None and record.state in DELIVERED:
        report.decide(SKIP, _done_text(record) + "; TikTok has not released its public link yet, so a real run "
                            "asks once more (one status call, never a new post)")
    elif record is not None and record.in_flight:
        _plan_resume(checks, item.request, record, report)
    elif record is not None and record.state == State.PENDING_INIT and item.request.source == "PULL_FROM_URL" \
            and not (checks.options.force or record.retry_requested):
        report.problems.append("an earlier run sent this post's init and never learned the answer, so it may "
                               "already be on TikTok; check the profile, then re-run with --force")
    else:
        if record is not None:
            report.notes.append(f"an earlier attempt stopped ({record.error or record.state}); a real run tries "
                                "again")
        _check_content(checks, item.request, report)


def _done_text(record: PostRecord) -> str:
    where = "sent to the creator's inbox" if record.state == State.IN_INBOX else "posted"
    since = record.published_at or record.updated_at
    return f"as done: already {where} ({record.publish_id}" + (f", {moment(since)})" if since else ")")


def _plan_resume(checks: Checks, request: PostRequest, record: PostRecord, report: Report) -> None:
    """An attempt TikTok is working on: followed, or its upload carried on (a new one if its URL expired)."""
    report.problems += checks.account_problems(request.user_id)
    if record.state != State.UPLOADING:
        report.decide(RESUME, f"{record.publish_id} is {record.status or record.state} at TikTok; its status is "
                              "followed to the end (never a second init)")
        return
    if (record.upload_url_expires_at or 0) <= checks.now or not record.plan:
        report.notes.append(f"its upload URL has expired: the upload of {record.publish_id} starts over")
        _check_content(checks, request, report)
        return
    if request.video_media is not None:
        _check_stored(checks, request.video_media, report)
    else:
        _check_file(checks, request.video_path, None, report)
    total = (record.plan or {}).get("total_chunk_count", 0)
    report.decide(RESUME, f"{record.publish_id}: the upload goes on from what TikTok holds (chunk "
                          f"{record.next_chunk + 1} of {total} by the last record)")


def _check_content(checks: Checks, request: PostRequest, report: Report) -> None:
    """The account, the creator's options, the media and the caption, as the publisher checks them before init."""
    account = checks.account_problems(request.user_id)
    report.problems += account
    creator = Creator(unknown="the account is not usable (above)") if account else checks.creator(request.user_id)
    info = creator.info
    if request.video_path is not None:
        _check_file(checks, request.video_path, info.max_duration_s if info and info.max_duration_s else None,
                    report)
    elif request.video_media is not None:
        _check_stored(checks, request.video_media, report)
    elif request.video_url:
        report.notes.append(f"TikTok pulls the video from {request.video_url} ({_verified_note(checks)})")
    elif request.photo_media:
        _check_photos(checks, request.photo_media, report)
    else:
        report.notes.append(f"TikTok pulls {len(request.photo_urls)} image(s) ({_verified_note(checks)})")
    if creator.refused:
        report.problems.append(creator.refused)
    elif creator.later and report.verdict == POST:
        report.decide(WAIT, f"and try again later: TikTok takes no new post from this account now "
                            f"({creator.later})")
    elif creator.unknown and not account:
        report.notes.append(f"creator options not checked: {creator.unknown}; a real run checks privacy, maximum "
                            "duration and interactions before it posts")
    elif info is not None:
        _check_options(checks, request, info, report)
    caption = build_caption(request.description or "", request.tags, limit=request.caption_limit)
    if caption.text:
        report.notes.append(f"caption: {caption.text!r}")


def _check_file(checks: Checks, path: Path, max_duration_s: float | None, report: Report) -> None:
    """The video against TikTok's media limits (and the creator's maximum duration when known), its chunk plan."""
    try:
        info = probe(path)
    except MediaError as exc:
        report.problems.append(f'field "video_path": {exc}')
        return
    report.problems += [f'field "video_path": {p}' for p in check_video(info, max_duration_s=max_duration_s)]
    try:
        plan = plan_chunks(info.size_bytes, checks.options.chunk_size)
    except ChunkPlanError as exc:
        report.problems.append(f'field "video_path": {path}: {exc}')
        return
    chunks = count(plan.total_chunk_count, "chunk") + (
        f" of {size(plan.chunk_size)}, the last {size(plan.final_chunk_bytes)}" if plan.total_chunk_count > 1 else "")
    report.notes.append(f"file: {info.container}/{info.video_codec} {info.width}x{info.height}, "
                        f"{info.duration_s or 0:.1f} s, {size(info.size_bytes)}: uploaded in {chunks}")


def _check_stored(checks: Checks, key: str, report: Report) -> None:
    """A video in the media store: there, its size and chunk plan (nothing is downloaded: the worker that posts it
    checks its copy against TikTok's limits first)."""
    from tiktok.media.store import MediaNotFound, MediaStoreError

    try:
        stored = checks.media().stat(key)
    except MediaNotFound as exc:
        report.problems.append(f'field "video_media": {exc}; put the video in again')
        return
    except MediaStoreError as exc:
        (report.notes if exc.transient else report.problems).append(f'field "video_media": {exc}')
        return
    try:
        plan = plan_chunks(stored.size, checks.options.chunk_size)
    except ChunkPlanError as exc:
        report.problems.append(f'field "video_media": {key}: {exc}')
        return
    name = f" ({stored.name})" if stored.name else ""
    report.notes.append(f"file: {key}{name} in {checks.media().where}, {size(stored.size)}: uploaded in "
                        f"{count(plan.total_chunk_count, 'chunk')}; the worker that posts it checks it against "
                        "TikTok's limits first")


def _verified_note(checks: Checks) -> str:
    if checks.settings.media.verified_prefixes:
        return "under VERIFIED_URL_PREFIXES, which the app's verified domains and URL prefixes must be"
    return "its domain must be verified for the app: TikTok checks at init"


def _check_photos(checks: Checks, keys: tuple[str, ...], report: Report) -> None:
    """Photos in the media store: an address to publish them at (MEDIA_PUBLIC_URL), and each one there."""
    from tiktok.media.publishing import public_url
    from tiktok.media.store import MediaNotFound, MediaStoreError

    where = public_url(checks.settings)
    if where is None:
        report.problems.append('field "photo_media": MEDIA_PUBLIC_URL is not set, so there is no address TikTok '
                               "could pull the photos from: verify a domain or URL prefix with TikTok and set "
                               "MEDIA_PUBLIC_URL (see the README's \"Media TikTok pulls\")")
    for position, key in enumerate(keys):
        try:
            checks.media().stat(key)
        except MediaNotFound as exc:
            report.problems.append(f'field "photo_media": item {position}: {exc}; put the photo in again')
        except MediaStoreError as exc:
            (report.notes if exc.transient else report.problems).append(f'field "photo_media": {exc}')
            return
    if where is not None:
        report.notes.append(f"{count(len(keys), 'photo')} from {checks.media().where}: published at {where} when "
                            "the post is made, for TikTok to pull, and removed once TikTok has them")


def _check_options(checks: Checks, request: PostRequest, info: CreatorInfo, report: Report) -> None:
    """Privacy offered, and the interactions the creator turned off (they stay off whatever the entry says)."""
    who = f"@{info.username}"
    limit = f"; videos up to {info.max_duration_s} s" if info.max_duration_s else ""
    if request.draft:
        report.notes.append(f"inbox draft: {who} sets privacy and interactions in the TikTok app{limit}")
        return
    try:
        privacy = choose_privacy(request.privacy, checks.options.privacy, info)
        source = "the entry" if request.privacy else "--privacy" if checks.options.privacy else "the safe default"
        report.notes.append(f"privacy {privacy} ({source}), offered to {who}{limit}")
    except PrivacyNotOffered as exc:
        report.problems.append(str(exc))
    asked = {"comments": request.disable_comment}
    if request.media_type == "VIDEO":
        asked.update(duets=request.disable_duet, stitches=request.disable_stitch)
    disabled = {"comments": info.comment_disabled, "duets": info.duet_disabled, "stitches": info.stitch_disabled}
    kept = [name for name, disable in asked.items() if disabled[name] and disable is False]
    off = [name for name, disable in asked.items() if disabled[name] or disable is not False]
    if off:
        report.notes.append(f"interactions off: {', '.join(off)}" + (
            f" ({who} has turned {', '.join(kept)} off: the entry's choice cannot apply)" if kept else ""))


def _store_reports(checks: Checks, keys: set[str], manifest: Path | None) -> list[Report]:
    """The store's other posts a real run looks at: the app's, other manifests', and this file's left-out ones."""
    if checks.posts is None:
        return []
    source = str(manifest.resolve()) if manifest is not None else None
    reports = []
    for post in checks.posts.open_posts(now=checks.now, retry_failed=checks.options.retry_failed):
        if post.key in keys:
            continue
        origin = "composed in the app" if post.origin == "app" else f"from {post.source}"
        report = Report(f"{post.label} ({origin}) for {post.user_id}" + (f": {post.media_name}" if post.media_name
                                                                           else ""))
        if source is not None and post.origin == "manifest" and post.source == source and post.state == State.QUEUED:
            report.decide(WITHDRAW, f"it is no longer in {manifest} and had not started")
        else:
            _decide(checks, post, report)
        reports.append(report)
    return reports
