"""Post one post of the store: pre-flight, init, upload, status to the end, every step recorded.

Never post twice: the store records each step before the next one starts (one row update per step and per chunk).
A post whose publish is in flight is resumed (upload from the chunk TikTok holds, or status polling), never
initialised again. A retried init is safe only for FILE_UPLOAD (a publish without bytes never posts); for URL pulls
and photos, an init whose answer was lost stops that post with an explanation instead of risking a second post.

Two runs at once: each post is claimed (``PostStore.claim``) before anything else, and the claim is released when
the post ends, whatever happens (a full disk included), so no claim outlives its run. Holding the claim, the
publisher reads the post again, and it begins an attempt only if the post is still as the run read it
(``PostStore.start`` compares the revision and the state): a post cancelled or edited on the Posts page after a run
read the queue is never posted in its old form. A post another live run holds is SKIPPED with ``state``
CLAIMED_ELSEWHERE (the command turns that into exit 4, TRY LATER: a later run sees how it ended). A killed run's
claim is taken over and its record resumed by the rules above. A claim can also end under a live run (PostgreSQL's
leases lapse when their holder hangs or is cut off, and another run takes them over): the store refuses that run's
writes of the post, and right before each init the publisher has the store check the claim in the database; the
run then stops the post where it is (TRY LATER, state CLAIMED_ELSEWHERE) and writes and sends nothing more for it.

A video in the media store (``video_media``) is sent from the local copy the store gives (:meth:`MediaStore.local_path`:
the folder store's own file, or the S3 store's download, made once per machine and checked against its key), chunk
by chunk as a local file is. No such object is a failure of that post for good, naming the key (a person puts the
video in again and presses Retry); a store that cannot be reached now is TRY LATER; any other refusal of the store
(its settings, its bucket, bytes that no longer match their key) is BAD INPUT, tried again once it is fixed.

Photos in the media store (``photo_media``) are published for TikTok to pull (:mod:`tiktok.media.publishing`) just
before the init, under a token of their own that the post's record keeps, and the init sends their URLs. The
publication is withdrawn once TikTok has the photos (its status leaves PROCESSING_DOWNLOAD) or the attempt ends in any
way (posted, in the inbox, failed, refused, cancelled at TikTok), and when a new attempt of the post starts. An attempt
that stops with its init answer unknown keeps it (TikTok may be pulling) until the post is tried again or the sweep
removes it after a day; so does one still in flight (the next run resumes it). With no address to publish at
(MEDIA_PUBLIC_URL, which emulated runs do not need) the post stops before anything is sent, naming the setting.

Before the first attempt of a post imported from a manifest, when the account granted ``video.list``, the
publisher looks at the account's newest public videos for the same caption: a store that lost its history must
never re-post silently. A match stops the post until ``--force``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.errors import ClaimLost, FileProblem, StoreError, TikTokError
from tiktok.exitcodes import BAD_INPUT, SKIPPED, TRY_LATER
from tiktok.exitcodes import DONE as OUTCOME_DONE
from tiktok.exitcodes import FAILED as OUTCOME_FAILED
from tiktok.media.ownership import UNVERIFIED
from tiktok.media.publishing import Publication, items_of, publisher_for
from tiktok.media.store import MediaNotFound, MediaStore, MediaStoreError
from tiktok.posting.caption import CaptionTooLong, build_caption
from tiktok.posting.chunks import DEFAULT_CHUNK_BYTES, ChunkPlan, ChunkPlanError, plan_chunks
from tiktok.posting.client import (
    RETRYABLE_FAIL_REASONS,
    PostingClient,
    PrivacyNotOffered,
    PublishStatus,
    choose_privacy,
    file_source_info,
    photo_body,
    pull_source_info,
    video_post_info,
)
from tiktok.posting.manifest import PostRequest
from tiktok.posting.media import MediaError, MediaInfo, check_video, mime_type, probe
from tiktok.posting.policy import (DAY_S, DETECTED_BY, POSTING_RETRY, AppMode, EntryStop, active_user_cap_stop,
                                   app_mode, call_for_post, private_only_stop)
from tiktok.posting.transfer import UploadError, send_chunks
from tiktok.ratelimit import TokenLimiter
from tiktok.retry import Runtime
from tiktok.text import count, duration
from tiktok.store.base import Post, PostStore
from tiktok.store.records import DELIVERED, PUBLIC, PostRecord, State
from tiktok.words import plain

log = logging.getLogger(__name__)
UPLOAD_URL_TTL_S = 3600  # media transfer guide: the upload URL is valid for one hour
FIRST_POLL_S = 1.0  # first wait between status fetches; each wait is 1.5 times the last, up to MAX_POLL_S
MAX_POLL_S = 30.0
# A chunk's progress is one row update, made at most this often: where an upload resumes comes from TikTok's own
# count of the bytes it holds (status fetch), so the saved chunk is for the Posts page, which polls every 2 s.
PROGRESS_SAVE_S = 1.0
CLAIMED_ELSEWHERE = "claimed_elsewhere"  # Outcome.state of a post skipped because another run is posting it
CHANGED = "changed"  # Outcome.state of a post skipped because it was cancelled or edited after the run read it


@dataclass(frozen=True)
class Outcome:
    """How one post ended in a run: an outcome word (``status``) and a sentence for people (``detail``), with where
    the post stands (``state``) and TikTok's ids for it. Built by :meth:`of`; ``exit_status`` folds a run's outcomes
    into its exit code, and ``--json`` prints :meth:`to_json`."""

    post_id: int
    user_id: str
    media: str
    status: str  # an outcome of tiktok.exitcodes: done, skipped, failed, try_later, bad_input, relink
    detail: str
    state: str | None = None  # a State of the store, or CLAIMED_ELSEWHERE / CHANGED for a post the run left alone
    publish_id: str | None = None
    post_ids: tuple[int, ...] = ()
    error_code: str | None = None
    log_id: str | None = None

    @classmethod
    def of(cls, post: Post, request: PostRequest | None, status: str, detail: str, *,
           record: PostRecord | None = None, **fields: Any) -> Outcome:
        """The outcome of ``post`` (its entry as a checked ``request``; None when the entry is not valid): its state,
        publish_id, post ids and log_id are ``record``'s when one is given, else the post's state; ``fields``
        (``state``, ``error_code``, ``log_id``, ...) say otherwise where the caller knows better."""
        known: dict[str, Any] = {"state": post.state}
        if record is not None:
            known = {"state": record.state, "publish_id": record.publish_id, "post_ids": record.post_ids,
                     "log_id": record.log_id}
        return cls(post_id=post.id, user_id=post.user_id, media=media_label(request) if request else "",
                   status=status, detail=detail, **{**known, **fields})

    @property
    def label(self) -> str:
        """``post 17``: how lines name the post."""
        return f"post {self.post_id}"

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON values (``--json``)."""
        data = asdict(self)
        data["state"] = None if self.state is None else str(self.state)
        data["post_ids"] = list(self.post_ids)
        return data


@dataclass(frozen=True)
class Job:
    """One post being worked on: the store's row as the run read it, and its entry as a checked request."""

    post: Post
    request: PostRequest

    @property
    def user_id(self) -> str:
        return self.request.user_id

    @property
    def label(self) -> str:
        return self.post.label


@dataclass
class Publisher:
    """Posts one post at a time, from pre-flight to TikTok's final status, recording every step in ``posts`` (see
    the module docstring). One per worker thread: its HTTP sessions are its own; the token store, the post store and
    the ``limiter`` are shared by the run."""

    tokens: TokenStore
    oauth: OAuthClient
    posting: PostingClient
    upload_session: requests.Session
    posts: PostStore
    emulated: bool
    runtime: Runtime = field(default_factory=lambda: Runtime(policy=POSTING_RETRY))
    default_privacy: str | None = None
    poll_timeout_s: float = 600.0
    poll_interval_s: float = FIRST_POLL_S  # first wait between status fetches (TikTok allows 30 a minute per token)
    chunk_size: int = DEFAULT_CHUNK_BYTES
    force: bool = False
    retry_failed: bool = False  # start again posts TikTok failed for good (otherwise only a retry request does)
    limiter: TokenLimiter | None = None  # shared by a run's threads: TikTok's per-token limits (limits.POSTING_LIMITS)
    say: Callable[[str], None] = print
    progress: Callable[[str, int], Any] | None = None  # (label, total bytes) -> callable(n) with .close()
    media: Callable[[], MediaStore] | None = None  # the media store, opened on first use (video_media entries)
    # What a video_path entry's file is sent as: (the file, a line saying so when it is a fixed copy), or
    # FileProblem to refuse it (the posting command's media doctor, --fix-media). None: the file itself.
    media_doctor: Callable[[Path], tuple[Path, str | None]] | None = None
    # Where photo_media entries' photos are published for TikTok to pull (tiktok.media.publishing.public_url);
    # None: nowhere (against TikTok without MEDIA_PUBLIC_URL), and such a post stops before its init.
    public_url: str | None = None
    # TIKTOK_APP_MODE (None: not set; then what TikTok's answers showed, PostStore.detected_app_mode): an unaudited
    # app's Direct Posts are checked before their init (_unaudited_cap, private_only_stop in _prepare)
    app_mode: str | None = None

    def publish(self, post: Post, request: PostRequest) -> Outcome:
        job = Job(post, request)
        claimed = self.posts.claim(post)
        if claimed.holder is not None:
            return Outcome.of(post, request, SKIPPED, f"another run ({claimed.holder.describe()}) is posting it; "
                              "skipped (run again later to see how it ended)", state=CLAIMED_ELSEWHERE)
        try:
            now = self.posts.get(post.id)  # read again under the claim: another run may have ended it meanwhile
            if now is None or not self.posts.still_queued(post.id, post.revision):
                return changed_outcome(job)
            if claimed.taken_over is not None:
                self.say(f"  {job.label}: taking over from a run that stopped ({claimed.taken_over.describe()})")
            return self._publish_claimed(job, now.record)
        except ClaimLost as lost:  # another run may hold it now: nothing more was written or sent for it
            return Outcome.of(post, request, TRY_LATER, str(lost), state=CLAIMED_ELSEWHERE)
        finally:
            self.posts.release(post)

    def _publish_claimed(self, job: Job, record: PostRecord | None) -> Outcome:
        started = False  # whether an EntryStop below comes after this run began an attempt
        try:
            if record is not None and record.state in DELIVERED:
                if record.awaiting_public_id(self._now()):
                    self._check_account(job.user_id)
                    return self._follow_public_id(job, record)
                return self._outcome(job, record, SKIPPED, done_detail(record))
            if record is not None and record.needs_person and not self.retry_failed:
                return self._outcome(job, record, OUTCOME_FAILED, failed_for_good_detail(record))
            if record is not None and record.needs_force and not self.force and record.state == State.FAILED:
                return self._outcome(job, record, OUTCOME_FAILED, needs_force_detail(record))
            self._check_account(job.user_id)
            again = self.force or (record is not None and record.retry_requested)
            if record is not None and record.state == State.PENDING_INIT and job.request.source == "PULL_FROM_URL" \
                    and not again:
                raise EntryStop(OUTCOME_FAILED, "an earlier run sent this post's init and never learned the answer, so "
                                                "it may already be on TikTok; check the profile, then re-run with "
                                                "--force to post it again", may_exist=True)
            started = True
            if record is not None and record.in_flight:
                return self._resume(job, record)
            if record is not None and record.publication:  # an earlier attempt's, no longer needed: a new one starts
                self._withdraw(job, record.publication)
            return self._post_new(job)
        except _NotStarted as early:
            return self._stopped(job, early.stop, started=False)
        except EntryStop as stop:
            return self._stopped(job, stop, started=started)

    # -- steps -------------------------------------------------------------------------------------------------

    def _post_new(self, job: Job) -> Outcome:
        """Checks, then a new attempt: its record first (``start``), then the init, the upload and the status.
        A stop before the attempt began is a :class:`_NotStarted`."""
        try:
            entry, creator, privacy, caption, plan, mime = self._prepare(job)
            publication = self._publish_photos(job) if entry.photo_media else None
        except EntryStop as stop:
            raise _NotStarted(stop) from None
        try:
            record = self.posts.start(job.post.id, job.post.revision, PostRecord(
                key=job.post.key, user_id=job.user_id, state=State.PENDING_INIT, emulated=self.emulated,
                privacy=privacy, plan=None if plan is None else _plan_fields(plan),
                username=creator.username or None, publication=publication.token if publication else None))
            if record is None:
                raise _Changed()
            sent = entry if publication is None else replace(entry, photo_urls=publication.urls, photo_media=())
            init = self._init(job.post, sent, creator, privacy, caption, plan)
        except (_Changed, TikTokError):  # nothing was sent (a refused or lost init is an EntryStop): not needed
            if publication is not None:
                self._withdraw(job, publication.token)
            raise
        except EntryStop as stop:
            if publication is not None and _code_of(stop.error) == UNVERIFIED:
                raise EntryStop(stop.status, f"TikTok will not pull the photos from {self.public_url}: it is not "
                                "under a domain or URL prefix verified for this app; verify it in TikTok's developer "
                                "portal, or set MEDIA_PUBLIC_URL to an address that is (README: \"Media TikTok "
                                f"pulls\"). {stop.detail}", stop.error) from None
            raise
        record = self._save(job, record, state=State.UPLOADING if plan else State.PROCESSING,
                            publish_id=init.publish_id, upload_url=init.upload_url,
                            upload_url_expires_at=self._now() + UPLOAD_URL_TTL_S if init.upload_url else None)
        if plan is not None:
            record = self._upload(job, record, plan, mime)
        return self._finish(job, record)

    def _prepare(self, job: Job):
        """Everything checked before an attempt: the media and its chunk plan, creator_info, the caption, privacy."""
        entry, uid = job.request, job.user_id
        plan = mime = info = None
        if entry.source == "FILE_UPLOAD":  # checked against TikTok's limits before any call
            info, plan, mime = self._media_plan(entry)
        if entry.photo_media:
            self._publishing()  # before any call: nothing is sent when there is nowhere to publish
        mode = None if entry.draft else self._unaudited_cap(job)
        creator = self._call(uid, self.posting.creator_info, "creator_info")
        if info is not None and creator.max_duration_s and info.duration_s > creator.max_duration_s:
            video = entry.video_path or entry.video_media
            raise EntryStop(BAD_INPUT, f'field "{entry.video_field}": {video}: {info.duration_s:.1f} s is longer '
                                     f"than the {creator.max_duration_s} s @{creator.username} may post")
        try:
            caption = build_caption(entry.description or "", entry.tags, limit=entry.caption_limit)
        except CaptionTooLong as exc:
            raise EntryStop(BAD_INPUT, f'field "description": {exc}', exc) from None
        if caption.dropped_tags:
            self.say(f"  {job.label}: tags dropped to fit the caption limit: "
                     f"{' '.join('#' + t for t in caption.dropped_tags)}")
        if job.post.check_caption and not self.force:
            self._look_for_caption(job, caption.text)
        privacy = None if entry.draft else self._privacy(job, creator)
        stop = None if mode is None else private_only_stop(mode, privacy, creator.privacy_options, creator.username)
        if stop is not None:
            raise stop
        return entry, creator, privacy, caption, plan, mime

    def _unaudited_cap(self, job: Job) -> AppMode:
        """The app's mode for a Direct Post (TIKTOK_APP_MODE, or detected). An unaudited app may have only 5
        accounts posting through it in 24 hours (tiktok.posting.policy): a sixth is stopped here, before any call,
        in TikTok's words. The accounts counted: those with a *published* event in the store in the last 24 hours.
        (Its other rule, a private account and SELF_ONLY, needs creator_info: _prepare checks it after.)"""
        mode = app_mode(self.app_mode, self.posts.detected_app_mode())
        if mode.unaudited:
            stop = active_user_cap_stop(mode, job.user_id, self.posts.posting_users_since(self._now() - DAY_S))
            if stop is not None:
                raise stop
        return mode

    def _look_for_caption(self, job: Job, caption: str) -> None:
        """Stop a post whose caption the account's newest public videos already carry (video.list granted)."""
        account = self.tokens.get(job.user_id)
        if not caption.strip() or account is None or "video.list" not in account.scopes:
            return
        captions = self._call(job.user_id, self.posting.recent_captions, "video_list")
        wanted = " ".join(caption.split())
        if any(" ".join(text.split()) == wanted for text in captions):
            raise EntryStop(OUTCOME_FAILED, "the account already has a public video with this exact caption, and "
                                            "this store has no record of posting it (was the store replaced or "
                                            "lost?); check the profile, then run with --force (or press Retry) "
                                            "to post it anyway", may_exist=True)

    def _resume(self, job: Job, record: PostRecord) -> Outcome:
        self.say(f"  {job.label}: resuming {record.publish_id} from an earlier run")
        status = self._status(job, record)
        if status.terminal:
            return self._terminal(job, record, status)
        if record.state == State.UPLOADING:
            expired = (record.upload_url_expires_at or 0) <= self._now()
            if expired or not record.upload_url or not record.plan:
                self.say(f"  {job.label}: its upload URL has expired; starting the post again")
                self._save(job, record, state=State.FAILED, error="upload URL expired")
                return self._post_new(job)
            plan = ChunkPlan(**record.plan)
            path = self._video_file(job.request)
            info = probe(path)
            if info.size_bytes != plan.video_size:  # never another file's bytes under this upload's plan
                raise EntryStop(BAD_INPUT, f'field "{job.request.video_field}": {path} is {info.size_bytes:,} '
                                         f"bytes, but the upload under way is of {plan.video_size:,}: the file "
                                         "changed since it began, or it began with a copy fixed by --fix-media "
                                         "(run with --fix-media again)")
            held = status.uploaded_bytes or 0
            start = next((c.index for c in plan.chunks() if c.first_byte == held), record.next_chunk)
            record = self._upload(job, self._save(job, record, next_chunk=start), plan, mime_type(info))
        return self._finish(job, record)

    def _media_plan(self, entry: PostRequest) -> tuple[MediaInfo, ChunkPlan, str]:
        field_name = entry.video_field
        try:
            info = probe(self._video_file(entry))
            problems = check_video(info)
            if problems:
                raise EntryStop(BAD_INPUT, f'field "{field_name}": {"; ".join(problems)}')
            return info, plan_chunks(info.size_bytes, self.chunk_size), mime_type(info)
        except (MediaError, ChunkPlanError) as exc:
            raise EntryStop(BAD_INPUT, f'field "{field_name}": {exc}', exc) from None

    def _doctored(self, path: Path) -> Path:
        """The file the media doctor sends for ``path`` (a fixed copy says so once); the post stays the entry's:
        its key and stored entry name ``path`` whatever is sent."""
        try:
            sent, line = self.media_doctor(path)
        except FileProblem as exc:
            raise EntryStop(BAD_INPUT, f'field "video_path": {exc}', exc) from None
        if line:
            self.say(f"  {line}")
        return sent

    def _video_file(self, entry: PostRequest) -> Path:
        """The local file a FILE_UPLOAD sends: ``video_path``, or the media store's copy of ``video_media``."""
        if entry.video_media is None:
            return entry.video_path if self.media_doctor is None else self._doctored(entry.video_path)
        where = f'field "video_media": {entry.video_media}'
        if self.media is None:
            raise EntryStop(BAD_INPUT, f"{where}: this run has no media store to read it from")
        try:
            return self.media().local_path(entry.video_media)
        except MediaNotFound as exc:
            raise EntryStop(OUTCOME_FAILED, f"{where}: {exc}; put the video in again (compose the post anew, or "
                                            "import its manifest again), then press Retry", exc) from None
        except MediaStoreError as exc:
            raise EntryStop(TRY_LATER if exc.transient else BAD_INPUT, f"{where}: {exc}", exc) from None

    def _publishing(self) -> tuple[Callable[[], MediaStore], str]:
        """What a photo_media post needs: the media store holding its photos, and an address to publish them at."""
        if self.public_url is None:
            raise EntryStop(BAD_INPUT, 'field "photo_media": TikTok takes photos only by pulling them from a web '
                                       "address verified for your app, and MEDIA_PUBLIC_URL (where this tool "
                                       "publishes them) is not set: verify a domain or URL prefix with TikTok, serve "
                                       "the published photos there and set MEDIA_PUBLIC_URL (see the README's "
                                       '"Media TikTok pulls"), then run again')
        if self.media is None:
            raise EntryStop(BAD_INPUT, 'field "photo_media": this run has no media store to read the photos from')
        return self.media, self.public_url

    def _publish_photos(self, job: Job) -> Publication:
        """Publish the entry's photos for TikTok to pull (a new token); EntryStop naming what is wrong."""
        keys = job.request.photo_media
        where = 'field "photo_media"'
        media, address = self._publishing()
        try:
            store = media()
            publication = publisher_for(store, address).publish(items_of(store, keys))
        except MediaNotFound as exc:
            raise EntryStop(OUTCOME_FAILED, f"{where}: {exc}; put the photo in again (compose the post anew, or "
                                            "import its manifest again), then press Retry", exc) from None
        except MediaStoreError as exc:
            raise EntryStop(TRY_LATER if exc.transient else BAD_INPUT, f"{where}: {exc}", exc) from None
        self.say(f"  {job.label}: {count(len(keys), 'photo')} published at {address} for TikTok to pull")
        return publication

    def _withdraw(self, job: Job, token: str) -> None:
        """Remove a publication; one the store cannot remove now is said and left to the sweep (a day later)."""
        if self.media is None:
            return
        try:
            publisher_for(self.media(), self.public_url or "").withdraw(token)
        except MediaStoreError as exc:
            log.warning("%s: published photos %s not removed now (%s); the sweep removes them after a day",
                        job.label, token, exc)
            self.say(f"  {job.label}: its published photos could not be removed now ({exc}); they are removed "
                     "after a day")

    def _withdrawn(self, job: Job, record: PostRecord) -> PostRecord:
        """``record`` once its publication is withdrawn (TikTok has the photos), saved."""
        if record.publication is None:
            return record
        self._withdraw(job, record.publication)
        return self._save(job, record, publication=None)

    def _privacy(self, job: Job, creator) -> str:
        entry = job.request
        try:
            privacy = choose_privacy(entry.privacy, self.default_privacy, creator)
        except PrivacyNotOffered as exc:
            raise EntryStop(BAD_INPUT, str(exc), exc) from None
        if not entry.privacy:
            source = "--privacy" if self.default_privacy else "the safe default (no privacy given)"
            self.say(f"  {job.label}: privacy {privacy} from {source}")
        return privacy

    def _init(self, post: Post, entry: PostRequest, creator, privacy, caption, plan):
        """The call that creates the post at TikTok: each attempt checks ``post``'s claim first (see _call)."""
        uid = entry.user_id
        if entry.media_type == "PHOTO":
            body = photo_body(entry, None if entry.draft else creator, privacy, caption)
            return self._call(uid, lambda t: self.posting.init_photo(t, body), "init", idempotent=False, claim=post)
        source_info = file_source_info(plan) if plan else pull_source_info(entry.video_url)
        post_info = None if entry.draft else video_post_info(entry, creator, privacy, caption)
        return self._call(uid, lambda t: self.posting.init_video(t, source_info, post_info), "init",
                          idempotent=plan is not None, claim=post)

    def _upload(self, job: Job, record: PostRecord, plan: ChunkPlan, mime: str) -> PostRecord:
        entry = job.request
        path = self._video_file(entry)
        bar = self.progress(media_label(entry), plan.video_size) if self.progress else None
        if bar is not None and record.next_chunk:
            bar(plan.chunk(record.next_chunk).first_byte)
        state = {"record": record}
        saved_at = [None]

        def chunk_done(next_index: int) -> None:
            """Save the progress, at most once every PROGRESS_SAVE_S (the pages show it; a resume asks TikTok)."""
            now = self.runtime.monotonic()
            if saved_at[0] is not None and now - saved_at[0] < PROGRESS_SAVE_S:
                return
            state["record"] = self._save(job, state["record"], next_chunk=next_index)
            saved_at[0] = now

        try:
            send_chunks(self.upload_session, record.upload_url, path, plan, mime,
                        start_chunk=record.next_chunk, runtime=self.runtime, on_progress=bar, on_chunk=chunk_done)
        except UploadError as exc:
            if exc.transient:
                raise EntryStop(TRY_LATER, f"upload interrupted at chunk {exc.next_chunk + 1}/"
                                         f"{plan.total_chunk_count} ({exc}); re-run to resume", exc) from None
            self._save(job, state["record"], state=State.FAILED, error=str(exc))
            raise EntryStop(OUTCOME_FAILED, str(exc), exc) from None
        finally:
            if bar is not None and hasattr(bar, "close"):
                bar.close()
        return self._save(job, state["record"], state=State.PROCESSING, upload_url=None)

    def _finish(self, job: Job, record: PostRecord) -> Outcome:
        """Poll status until it is terminal, within ``poll_timeout_s``."""
        deadline = self.runtime.monotonic() + self.poll_timeout_s
        delay = self.poll_interval_s
        while True:
            status = self._status(job, record)
            if status.terminal:
                return self._terminal(job, record, status)
            if record.publication is not None and status.status != "PROCESSING_DOWNLOAD":
                record = self._withdrawn(job, record)  # TikTok has the photos
            if self.runtime.monotonic() + delay > deadline:
                self._save(job, record, status=status.status)
                raise EntryStop(TRY_LATER, f"{record.publish_id} still {status.status} after "
                                         f"{duration(self.poll_timeout_s)}; re-run later to follow it to the end")
            self.runtime.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)

    def _follow_public_id(self, job: Job, record: PostRecord) -> Outcome:
        """One status fetch for a public post TikTok published but whose id moderation still holds back; never an
        init. The post stays done either way (SKIPPED: nothing was posted now)."""
        status = self._status(job, record)
        if status.status != "PUBLISH_COMPLETE":
            return self._terminal(job, record, status) if status.terminal else self._outcome(
                job, record, SKIPPED, f"posted in an earlier run; TikTok now says {status.status}")
        if not status.post_ids:
            return self._outcome(job, record, SKIPPED, "posted in an earlier run; still under review at TikTok "
                                 "(its public link comes once moderation clears it)")
        record = self._save(job, record, post_ids=status.post_ids, status=status.status)
        return self._outcome(job, record, SKIPPED, f"posted in an earlier run; cleared review: public post id "
                             f"{status.post_ids[0]}")

    def _terminal(self, job: Job, record: PostRecord, status: PublishStatus) -> Outcome:
        if record.publication is not None:  # saved with the final state below
            self._withdraw(job, record.publication)
            record = replace(record, publication=None)
        if status.status == "FAILED":
            retryable = status.fail_reason in RETRYABLE_FAIL_REASONS
            record = self._save(job, record, state=State.FAILED, status=status.status, fail_reason=status.fail_reason,
                                error=f"TikTok failed the post: {status.fail_reason}", log_id=status.log_id,
                                outcome=TRY_LATER if retryable else OUTCOME_FAILED, upload_url=None)
            return self._outcome(job, record, TRY_LATER if retryable else OUTCOME_FAILED,
                                 str(plain(status.fail_reason or "", log_id=status.log_id)))  # says to retry
        done = State.POSTED if status.status == "PUBLISH_COMPLETE" else State.IN_INBOX
        record = self._save(job, record, state=done, status=status.status, post_ids=status.post_ids,
                            upload_url=None, outcome=OUTCOME_DONE,
                            published_at=self._now() if done == State.POSTED else None)
        if done == State.IN_INBOX:
            return self._outcome(job, record, OUTCOME_DONE, "sent to the creator's TikTok inbox as a draft")
        if status.post_ids:
            return self._outcome(job, record, OUTCOME_DONE, f"posted; public post id {status.post_ids[0]}")
        if record.privacy == PUBLIC:
            return self._outcome(job, record, OUTCOME_DONE, "posted; under review at TikTok: its public link "
                                 "comes once moderation clears it (later runs look for it for 24 h)")
        return self._outcome(job, record, OUTCOME_DONE, "posted (not public, so TikTok gives no public link)")

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.tokens.clock()

    def _save(self, job: Job, record: PostRecord, **changes: Any) -> PostRecord:
        return self.posts.save(job.post.id, replace(record, **changes))

    def _check_account(self, open_id: str) -> None:
        account = self.tokens.get(open_id)
        if account is None:
            raise EntryStop(BAD_INPUT, f'field "user_id": no connected account {open_id} in {self.tokens.path}; '
                                     "log in with the app first")
        if account.emulated != self.emulated:
            where = "the emulator" if account.emulated else "TikTok"
            raise EntryStop(BAD_INPUT, f'field "user_id": account {open_id} was linked through {where}; '
                                     f"this run talks to {'the emulator' if self.emulated else 'TikTok'}")

    def _status(self, job: Job, record: PostRecord):
        return self._call(job.user_id, lambda t: self.posting.status(t, record.publish_id), "status")

    def _call(self, open_id: str, fn: Callable[[str], Any], kind: str, *, idempotent: bool = True,
              claim: Post | None = None) -> Any:
        """One API call as ``open_id``; every attempt (retries and the retry after a refresh included) first takes
        a slot of ``kind`` from the shared limiter, so the run never sends what TikTok would refuse with 429.

        ``claim``: a call that could create that post. Right before each attempt (after its slot, so after any wait)
        the store checks in the database that this run still holds the post's claim (``PostStore.check_claim``):
        ClaimLost when not. That, or a limiter or database that cannot answer then, stops the post with nothing
        sent: it is raised as it is, never taken for an init whose answer is unknown."""
        limiter = self.limiter

        def prepared(token: str, call: Callable[[str], Any] = fn) -> Any:
            try:
                if limiter is not None:
                    limiter.acquire(open_id, kind)
                if claim is not None:
                    self.posts.check_claim(claim)
            except TikTokError as exc:
                if claim is None:
                    raise
                raise _NotSent(exc) from None
            return call(token)
        try:
            return call_for_post(self.tokens, self.oauth, self.runtime, open_id, prepared, idempotent=idempotent)
        except _NotSent as stopped:
            raise stopped.error from None

    def _outcome(self, job: Job, record: PostRecord, status: str, detail: str) -> Outcome:
        return Outcome.of(job.post, job.request, status, detail, record=record)

    def _stopped(self, job: Job, stop: EntryStop, *, started: bool) -> Outcome:
        """Record why the post stopped. In-flight publishes stay resumable; an init whose answer is unknown stays
        pending (the next run will not repeat it without --force); anything else is failed and can start again.
        A stop before an attempt began is recorded only if the post is still as the run read it."""
        if isinstance(stop, _Changed):
            return changed_outcome(job)
        error = stop.error
        code = getattr(error, "code", None) or getattr(error, "error", None)
        log_id = getattr(error, "log_id", None)
        if code in DETECTED_BY and started:  # TikTok's own answer (a stop before the attempt is this tool's)
            self._detected(code)
        current = self.posts.get(job.post.id)
        record = current.record if current is not None else None
        if record is not None and record.state in DELIVERED:  # only the look for its public id stopped
            return Outcome.of(job.post, job.request, stop.status, f"posted in an earlier run; could not look for its "
                              f"public link: {stop.detail}", record=record, error_code=code, log_id=log_id)
        if record is not None and (started or stop.may_exist):
            state = record.state if (stop.may_exist or record.in_flight) else State.FAILED
            publication = record.publication
            if publication is not None and state == State.FAILED and not stop.may_exist:  # over: nothing pulls it
                self._withdraw(job, publication)
                publication = None
            record = self._save(job, record, state=state, error=stop.detail, log_id=log_id, outcome=stop.status,
                                retry_requested=False, force_needed=stop.may_exist, publication=publication)
        else:
            record = self.posts.start(job.post.id, job.post.revision, PostRecord(
                key=job.post.key, user_id=job.user_id, state=State.FAILED, emulated=self.emulated, error=stop.detail,
                log_id=log_id, outcome=stop.status, force_needed=stop.may_exist))
            if record is None:
                return changed_outcome(job)
        return Outcome.of(job.post, job.request, stop.status, stop.detail, record=record, error_code=code,
                          log_id=log_id)


    def _detected(self, code: str) -> None:
        """TikTok's refusal ``code`` shows the app's mode (policy.DETECTED_BY): keep it in the post store's named
        values and say so once (the composer and accounts page read it; TIKTOK_APP_MODE, when set, wins)."""
        mode = DETECTED_BY[code]
        try:
            first = self.posts.record_app_mode(mode, code)
        except StoreError as exc:  # a note that could not be kept never changes the post's outcome
            log.warning("could not keep the app mode %s in the post store: %s", mode, exc)
            return
        if first:
            log.warning("TikTok answered %s: this TikTok app is %s; the composer now offers what that mode allows "
                        "(set TIKTOK_APP_MODE to say so yourself)", code, mode)


class _NotSent(Exception):
    """What stopped a call that could create a post before its request left (not a TikTokError, so no retry or
    policy takes it for TikTok's answer); ``_call`` raises ``error`` itself."""

    def __init__(self, error: TikTokError) -> None:
        super().__init__(str(error))
        self.error = error


class _NotStarted(Exception):
    """An EntryStop raised before the attempt began (nothing of this attempt is in the store)."""

    def __init__(self, stop: EntryStop) -> None:
        super().__init__(stop.detail)
        self.stop = stop


class _Changed(EntryStop):
    """The post was cancelled or edited after the run read it: nothing is sent, nothing recorded."""

    def __init__(self) -> None:
        super().__init__(SKIPPED, "cancelled or changed after this run read the queue; not posted")


def changed_outcome(job: Job) -> Outcome:
    """A post cancelled or edited after the run read it: skipped, nothing sent."""
    return Outcome.of(job.post, job.request, SKIPPED, "cancelled or changed after this run read the queue; not posted",
                      state=CHANGED)


def _code_of(error: TikTokError | None) -> str | None:
    """TikTok's error code of ``error``, if it carries one."""
    return getattr(error, "code", None) or getattr(error, "error", None)


def _plan_fields(plan: ChunkPlan) -> dict[str, int]:
    return {"video_size": plan.video_size, "chunk_size": plan.chunk_size,
            "total_chunk_count": plan.total_chunk_count}


def done_detail(record: PostRecord) -> str:
    """Why a posted (or inboxed) post is skipped: the runner settling it and the publisher checking it say alike."""
    where = "sent to the inbox" if record.state == State.IN_INBOX else "posted"
    return f"already {where} in an earlier run; skipped"


def failed_for_good_detail(record: PostRecord) -> str:
    """Why a post TikTok failed for good is not tried again by itself (see PostRecord.needs_person)."""
    return (f"failed earlier ({record.error or 'TikTok refused it'}); not tried again by itself: press Retry on the "
            "Posts page, or run with --retry-failed")


def needs_force_detail(record: PostRecord) -> str:
    """Why a post that may already be on TikTok is not sent by itself (see PostRecord.needs_force)."""
    return (f"{record.error or 'it may already be on TikTok'}" if record.error else
            "it may already be on TikTok; check the profile, then run with --force (or press Retry) to post it")


def media_label(entry: PostRequest) -> str:
    """What a post sends, as lines name it: the file's name, its media store key, the pulled URL, or ``3 photos``."""
    if entry.video_path is not None:
        return entry.video_path.name
    if entry.video_media is not None:
        return entry.video_media
    if entry.video_url:
        return entry.video_url
    return count(entry.photo_count, "photo")
