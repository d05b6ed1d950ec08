"""Post one manifest entry: pre-flight, init, upload, status to the end, every step recorded.

Never post twice: the results file records each step before the next one starts. An entry whose publish is in
flight is resumed (upload from the chunk TikTok holds, or status polling), never initialised again. A retried
init is safe only for FILE_UPLOAD (a publish without bytes never posts); for URL pulls and photos, an init whose
answer was lost stops that entry with an explanation instead of risking a second post.

Two runs at once: each entry is claimed in the results file (``ResultsStore.claim``) before anything else, and the
claim is released when the entry ends. Holding the claim, the publisher asks ``still_queued`` whether the entry is
still in the queue as read: the Posts page changes or cancels an entry only while holding its claim, so an entry
cancelled or edited after a run read the queue is never posted in its old form. An entry another live run holds
is SKIPPED with ``state`` CLAIMED_ELSEWHERE (the command turns that into exit 4, TRY LATER: the entry is not done
yet, a later run will see how it ended). A killed run's claim is taken over and its records resumed by the rules
above.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import requests

from tiktok.exitcodes import BAD_INPUT, SKIPPED, TRY_LATER
from tiktok.exitcodes import DONE as OUTCOME_DONE
from tiktok.exitcodes import FAILED as OUTCOME_FAILED
from tiktok.posting.policy import POSTING_RETRY, EntryStop, call_for_post
from tiktok.posting.caption import CaptionTooLong, build_caption
from tiktok.posting.chunks import DEFAULT_CHUNK_BYTES, ChunkPlan, ChunkPlanError, plan_chunks
from tiktok.posting.manifest import PostRequest
from tiktok.posting.media import MediaError, MediaInfo, check_video, mime_type, probe
from tiktok.auth.oauth import OAuthClient
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
from tiktok.posting.results import (
    DONE,
    FAILED,
    IN_INBOX,
    PENDING_INIT,
    POSTED,
    PROCESSING,
    PUBLIC,
    UPLOADING,
    PostRecord,
    ResultsStore,
    entry_key,
)
from tiktok.ratelimit import TokenLimiter
from tiktok.retry import Runtime
from tiktok.auth.tokens import TokenStore
from tiktok.posting.transfer import UploadError, send_chunks

log = logging.getLogger(__name__)
UPLOAD_URL_TTL_S = 3600  # media transfer guide: the upload URL is valid for one hour
FIRST_POLL_S = 1.0  # first wait between status fetches; each wait is 1.5 times the last, up to MAX_POLL_S
MAX_POLL_S = 30.0
CLAIMED_ELSEWHERE = "claimed_elsewhere"  # Outcome.state of an entry skipped because another run is posting it


@dataclass(frozen=True)
class Outcome:
    index: int
    user_id: str
    media: str
    status: str  # an outcome of tiktok.exitcodes: done, skipped, failed, try_later, bad_input, relink
    detail: str
    state: str | None = None  # the post's state in the results file: posted, inbox, failed, processing, ...
    publish_id: str | None = None
    post_ids: tuple[int, ...] = ()
    error_code: str | None = None
    log_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["post_ids"] = list(self.post_ids)
        return data


@dataclass
class Publisher:
    store: TokenStore
    oauth: OAuthClient
    posting: PostingClient
    upload_session: requests.Session
    results: ResultsStore
    emulated: bool
    runtime: Runtime = field(default_factory=lambda: Runtime(policy=POSTING_RETRY))
    default_privacy: str | None = None
    poll_timeout_s: float = 600.0
    poll_interval_s: float = FIRST_POLL_S  # first wait between status fetches (TikTok allows 30 a minute per token)
    chunk_size: int = DEFAULT_CHUNK_BYTES
    force: bool = False
    retry_failed: bool = False  # start again entries TikTok failed for good (otherwise only a retry request does)
    limiter: TokenLimiter | None = None  # shared by a run's threads: TikTok's per-token limits (limits.POSTING_LIMITS)
    still_queued: Callable[[str], bool] | None = None  # re-read under the claim: was the entry cancelled or edited?
    say: Callable[[str], None] = print
    progress: Callable[[str, int], Any] | None = None  # (label, total bytes) -> callable(n) with .close()

    def publish(self, entry: PostRequest) -> Outcome:
        key = entry_key(entry)
        holder, dead = self.results.claim(key)
        if holder is not None:
            return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=SKIPPED,
                           detail=f"another run ({holder.describe()}) is posting this entry; skipped (run again "
                                  "later to see how it ended)", state=CLAIMED_ELSEWHERE)
        try:
            if self.still_queued is not None and not self.still_queued(key):
                return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=SKIPPED,
                               detail="cancelled or changed after this run read the queue; not posted")
            if dead is not None:
                self.say(f"  entry {entry.index + 1}: taking over from a run that stopped ({dead.describe()})")
            return self._publish_claimed(entry, key)
        finally:
            self.results.release(key)

    def _publish_claimed(self, entry: PostRequest, key: str) -> Outcome:
        record = self.results.get(key) or PostRecord(key=key, index=entry.index, user_id=entry.user_id,
                                                     state="new", emulated=self.emulated)
        try:
            if record.state in DONE:
                if record.awaiting_public_id(self._now()):
                    self._check_account(entry.user_id)
                    return self._follow_public_id(entry, record)
                return self._outcome(entry, record, SKIPPED, done_detail(record))
            if record.needs_person and not self.retry_failed:
                return self._outcome(entry, record, OUTCOME_FAILED, failed_for_good_detail(record))
            self._check_account(entry.user_id)
            again = self.force or record.retry_requested
            if record.state == PENDING_INIT and entry.source == "PULL_FROM_URL" and not again:
                raise EntryStop(OUTCOME_FAILED, "an earlier run sent this post's init and never learned the answer, so it "
                                        "may already be on TikTok; check the profile, then re-run with --force to "
                                        "post it again", may_exist=True)
            if record.in_flight:
                return self._resume(entry, record)
            return self._post_new(entry, record)
        except EntryStop as stop:
            return self._stopped(entry, key, stop)

    # -- steps -------------------------------------------------------------------------------------------------

    def _post_new(self, entry: PostRequest, record: PostRecord) -> Outcome:
        uid = entry.user_id
        plan = mime = info = None
        if entry.source == "FILE_UPLOAD":  # checked against TikTok's limits before any call
            info, plan, mime = self._media_plan(entry)
        creator = self._call(uid, self.posting.creator_info, "creator_info")
        if info is not None and creator.max_duration_s and info.duration_s > creator.max_duration_s:
            raise EntryStop(BAD_INPUT, f'field "video_path": {entry.video_path}: {info.duration_s:.1f} s is longer '
                                     f"than the {creator.max_duration_s} s @{creator.username} may post")
        try:
            caption = build_caption(entry.description or "", entry.tags, limit=entry.caption_limit)
        except CaptionTooLong as exc:
            raise EntryStop(BAD_INPUT, f'field "description": {exc}', exc) from None
        if caption.dropped_tags:
            self.say(f"  entry {entry.index + 1}: tags dropped to fit the caption limit: "
                     f"{' '.join('#' + t for t in caption.dropped_tags)}")
        privacy = None
        if not entry.draft:
            privacy = self._privacy(entry, creator)
        record = self.results.save(record, state=PENDING_INIT, publish_id=None, upload_url=None, error=None,
                                   log_id=None, status=None, fail_reason=None, next_chunk=0, post_ids=(),
                                   plan=None if plan is None else _plan_fields(plan), privacy=privacy,
                                   username=creator.username or None, published_at=None, outcome=None,
                                   retry_requested=False)
        init = self._init(entry, creator, privacy, caption, plan)
        record = self.results.save(
            record, state=UPLOADING if plan else PROCESSING, publish_id=init.publish_id, upload_url=init.upload_url,
            upload_url_expires_at=self._now() + UPLOAD_URL_TTL_S if init.upload_url else None)
        if plan is not None:
            record = self._upload(entry, record, plan, mime)
        return self._finish(entry, record)

    def _resume(self, entry: PostRequest, record: PostRecord) -> Outcome:
        self.say(f"  entry {entry.index + 1}: resuming {record.publish_id} from an earlier run")
        status = self._status(entry, record)
        if status.terminal:
            return self._terminal(entry, record, status)
        if record.state == UPLOADING:
            expired = (record.upload_url_expires_at or 0) <= self._now()
            if expired or not record.upload_url or not record.plan:
                self.say(f"  entry {entry.index + 1}: its upload URL has expired; starting the post again")
                return self._post_new(entry, self.results.save(record, state=FAILED, error="upload URL expired"))
            plan = ChunkPlan(**record.plan)
            info = probe(entry.video_path)
            held = status.uploaded_bytes or 0
            start = next((c.index for c in plan.chunks() if c.first_byte == held), record.next_chunk)
            record = self._upload(entry, self.results.save(record, next_chunk=start), plan, mime_type(info))
        return self._finish(entry, record)

    def _media_plan(self, entry: PostRequest) -> tuple[MediaInfo, ChunkPlan, str]:
        try:
            info = probe(entry.video_path)
            problems = check_video(info)
            if problems:
                raise EntryStop(BAD_INPUT, f'field "video_path": {"; ".join(problems)}')
            return info, plan_chunks(info.size_bytes, self.chunk_size), mime_type(info)
        except (MediaError, ChunkPlanError) as exc:
            raise EntryStop(BAD_INPUT, f'field "video_path": {exc}', exc) from None

    def _privacy(self, entry: PostRequest, creator) -> str:
        try:
            privacy = choose_privacy(entry.privacy, self.default_privacy, creator)
        except PrivacyNotOffered as exc:
            raise EntryStop(BAD_INPUT, str(exc), exc) from None
        if not entry.privacy:
            source = "--privacy" if self.default_privacy else "the safe default (no privacy given)"
            self.say(f"  entry {entry.index + 1}: privacy {privacy} from {source}")
        return privacy

    def _init(self, entry, creator, privacy, caption, plan):
        uid = entry.user_id
        if entry.media_type == "PHOTO":
            body = photo_body(entry, None if entry.draft else creator, privacy, caption)
            return self._call(uid, lambda t: self.posting.init_photo(t, body), "init", idempotent=False)
        source_info = file_source_info(plan) if plan else pull_source_info(entry.video_url)
        post_info = None if entry.draft else video_post_info(entry, creator, privacy, caption)
        return self._call(uid, lambda t: self.posting.init_video(t, source_info, post_info), "init",
                          idempotent=plan is not None)

    def _upload(self, entry: PostRequest, record: PostRecord, plan: ChunkPlan, mime: str) -> PostRecord:
        bar = self.progress(str(entry.video_path.name), plan.video_size) if self.progress else None
        if bar is not None and record.next_chunk:
            bar(plan.chunk(record.next_chunk).first_byte)
        state = {"record": record}

        def chunk_done(next_index: int) -> None:
            state["record"] = self.results.save(state["record"], next_chunk=next_index)

        try:
            send_chunks(self.upload_session, record.upload_url, entry.video_path, plan, mime,
                        start_chunk=record.next_chunk, runtime=self.runtime, on_progress=bar, on_chunk=chunk_done)
        except UploadError as exc:
            if exc.transient:
                raise EntryStop(TRY_LATER, f"upload interrupted at chunk {exc.next_chunk + 1}/"
                                         f"{plan.total_chunk_count} ({exc}); re-run to resume", exc) from None
            self.results.save(state["record"], state=FAILED, error=str(exc))
            raise EntryStop(OUTCOME_FAILED, str(exc), exc) from None
        finally:
            if bar is not None and hasattr(bar, "close"):
                bar.close()
        return self.results.save(state["record"], state=PROCESSING, upload_url=None)

    def _finish(self, entry: PostRequest, record: PostRecord) -> Outcome:
        """Poll status until it is terminal, within ``poll_timeout_s``."""
        deadline = self.runtime.monotonic() + self.poll_timeout_s
        delay = self.poll_interval_s
        while True:
            status = self._status(entry, record)
            if status.terminal:
                return self._terminal(entry, record, status)
            if self.runtime.monotonic() + delay > deadline:
                self.results.save(record, status=status.status)
                raise EntryStop(TRY_LATER, f"{record.publish_id} still {status.status} after "
                                         f"{self.poll_timeout_s:.0f} s; re-run later to follow it to the end")
            self.runtime.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)

    def _follow_public_id(self, entry: PostRequest, record: PostRecord) -> Outcome:
        """One status fetch for a public post TikTok published but whose id moderation still holds back; never an
        init. The entry stays done either way (SKIPPED: nothing was posted now)."""
        status = self._status(entry, record)
        if status.status != "PUBLISH_COMPLETE":
            return self._terminal(entry, record, status) if status.terminal else self._outcome(
                entry, record, SKIPPED, f"posted in an earlier run; TikTok now says {status.status}")
        if not status.post_ids:
            return self._outcome(entry, record, SKIPPED, "posted in an earlier run; still under review at TikTok "
                                 "(its public link comes once moderation clears it)")
        record = self.results.save(record, post_ids=status.post_ids, status=status.status)
        return self._outcome(entry, record, SKIPPED, f"posted in an earlier run; cleared review: public post id "
                             f"{status.post_ids[0]}")

    def _terminal(self, entry: PostRequest, record: PostRecord, status: PublishStatus) -> Outcome:
        if status.status == "FAILED":
            retryable = status.fail_reason in RETRYABLE_FAIL_REASONS
            record = self.results.save(record, state=FAILED, status=status.status, fail_reason=status.fail_reason,
                                       error=f"TikTok failed the post: {status.fail_reason}", log_id=status.log_id,
                                       outcome=TRY_LATER if retryable else OUTCOME_FAILED, upload_url=None)
            return self._outcome(entry, record, TRY_LATER if retryable else OUTCOME_FAILED,
                                 f"TikTok failed the post ({status.fail_reason})"
                                 + ("; re-run to try again" if retryable else ""))
        done = POSTED if status.status == "PUBLISH_COMPLETE" else IN_INBOX
        record = self.results.save(record, state=done, status=status.status, post_ids=status.post_ids,
                                   upload_url=None, outcome=OUTCOME_DONE,
                                   published_at=self._now() if done == POSTED else None)
        if done == IN_INBOX:
            return self._outcome(entry, record, OUTCOME_DONE, "sent to the creator's TikTok inbox as a draft")
        if status.post_ids:
            return self._outcome(entry, record, OUTCOME_DONE, f"posted; public post id {status.post_ids[0]}")
        if record.privacy == PUBLIC:
            return self._outcome(entry, record, OUTCOME_DONE, "posted; under review at TikTok: its public link "
                                 "comes once moderation clears it (later runs look for it for 24 h)")
        return self._outcome(entry, record, OUTCOME_DONE, "posted (not public, so TikTok gives no public link)")

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.store.clock()

    def _check_account(self, open_id: str) -> None:
        account = self.store.get(open_id)
        if account is None:
            raise EntryStop(BAD_INPUT, f'field "user_id": no connected account {open_id} in {self.store.path}; '
                                     "log in with the app first")
        if account.emulated != self.emulated:
            where = "the emulator" if account.emulated else "TikTok"
            raise EntryStop(BAD_INPUT, f'field "user_id": account {open_id} was linked through {where}; '
                                     f"this run talks to {'the emulator' if self.emulated else 'TikTok'}")

    def _status(self, entry: PostRequest, record: PostRecord):
        return self._call(entry.user_id, lambda t: self.posting.status(t, record.publish_id), "status")

    def _call(self, open_id: str, fn: Callable[[str], Any], kind: str, *, idempotent: bool = True) -> Any:
        """One API call as ``open_id``; every attempt (retries and the retry after a refresh included) first takes
        a slot of ``kind`` from the shared limiter, so the run never sends what TikTok would refuse with 429."""
        limiter = self.limiter
        if limiter is not None:
            def limited(token: str, call: Callable[[str], Any] = fn) -> Any:
                limiter.acquire(open_id, kind)
                return call(token)
            fn = limited
        return call_for_post(self.store, self.oauth, self.runtime, open_id, fn, idempotent=idempotent)

    def _outcome(self, entry: PostRequest, record: PostRecord, status: str, detail: str) -> Outcome:
        return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=status,
                       detail=detail, state=record.state, publish_id=record.publish_id, post_ids=record.post_ids,
                       error_code=None, log_id=record.log_id)

    def _stopped(self, entry: PostRequest, key: str, stop: EntryStop) -> Outcome:
        """Record why the entry stopped. In-flight publishes stay resumable; an init whose answer is unknown stays
        pending (the next run will not repeat it without --force); anything else is failed and can start again."""
        error = stop.error
        code = getattr(error, "code", None) or getattr(error, "error", None)
        log_id = getattr(error, "log_id", None)
        record = self.results.get(key) or PostRecord(key=key, index=entry.index, user_id=entry.user_id,
                                                     state=FAILED, emulated=self.emulated)
        if record.state in DONE:  # only the look for its public id stopped: the post itself stands
            return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=stop.status,
                           detail=f"posted in an earlier run; could not look for its public link: {stop.detail}",
                           state=record.state, publish_id=record.publish_id, error_code=code, log_id=log_id)
        if stop.may_exist or record.in_flight:
            state = record.state
        else:
            state = FAILED
        record = self.results.save(record, state=state, error=stop.detail, log_id=log_id, outcome=stop.status,
                                   retry_requested=False)
        return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=stop.status,
                       detail=stop.detail, state=record.state, publish_id=record.publish_id, error_code=code,
                       log_id=log_id)

def _plan_fields(plan: ChunkPlan) -> dict[str, int]:
    return {"video_size": plan.video_size, "chunk_size": plan.chunk_size,
            "total_chunk_count": plan.total_chunk_count}


def done_detail(record: PostRecord) -> str:
    """Why a posted (or inboxed) entry is skipped: the runner settling it and the publisher checking it say alike."""
    return "already " + ("sent to the inbox" if record.state == IN_INBOX else "posted") + " in an earlier run; skipped"


def failed_for_good_detail(record: PostRecord) -> str:
    """Why an entry TikTok failed for good is not tried again by itself (see PostRecord.needs_person)."""
    return (f"failed earlier ({record.error or 'TikTok refused it'}); not tried again by itself: press Retry on the "
            "Posts page, or run with --retry-failed")


def media_label(entry: PostRequest) -> str:
    if entry.video_path is not None:
        return entry.video_path.name
    if entry.video_url:
        return entry.video_url
    return f"{len(entry.photo_urls)} photo(s)"
