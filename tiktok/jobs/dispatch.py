"""Which jobs the store's posts need now: the dispatcher's decisions, pure (the posts, their live claims and now
given).

- A post not started whose ``post_at`` is still to come gets a job deferred *to its post_at*; its queueing lock
  carries the time, so a rescheduled post gets a job at its new time (the old job, if it runs, finds the post
  scheduled and posts nothing).
- A post that needs work now (due, to resume, a retry asked for, a failure to try again, a public id to look for)
  gets a job now. Its queueing lock is the post's, so there is never more than one waiting.
- A post some session is posting right now (a live claim) gets nothing: that worker is on it. If the worker dies,
  its claim dies with its connection and the next dispatch defers a job that resumes the post.
- Failures that retry by themselves, and public ids still to come, are looked at again only ``recheck_s`` after
  their record last changed, so a post TikTok keeps refusing for an hour is not retried every few seconds.
- A post missed beyond its grace period gets nothing, a retry after a failure included (:func:`plan_posts`): it waits
  for a person's Retry or a new time.

``now`` is the database server's clock (:mod:`tiktok.db.clock`, the caller's store clock), so workers whose own
clocks differ decide alike and Procrastinate, which starts a deferred job by the server's ``now()``, agrees."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timezone

from tiktok.db.handoff import queueing_lock
from tiktok.exitcodes import SCHEDULED
from tiktok.posting.runner import RunOptions, Work, plan_posts
from tiktok.store.records import PostRecord, State

RECHECK_S = 60.0  # a retryable failure or an awaited public id is looked at again this long after its last change


@dataclass(frozen=True)
class Deferral:
    key: str  # the post's key: the job's argument
    user_id: str
    queueing_lock: str
    at: datetime | None = None  # None: now


def plan_deferrals(items: Sequence[Work], live: Set[int], *, now: float, grace_s: float,
                   recheck_s: float = RECHECK_S) -> list[Deferral]:
    """The jobs to defer, in queue order (Procrastinate refuses a second job under a queueing lock already waiting,
    so deferring the same list again adds nothing)."""
    work, settled = plan_posts(items, now=now, options=RunOptions(grace_s=grace_s))
    chosen = {item.post.id for item in work}
    deferrals = []
    for item in items:
        post = item.post
        if post.id in live:
            continue
        if post.id in chosen:
            if post.record is not None and _resting(post.record, now, recheck_s):
                continue
            deferrals.append(Deferral(post.key, post.user_id, queueing_lock(post.key)))
        elif post.id in settled and settled[post.id].status == SCHEDULED and post.due_at is not None:
            when = datetime.fromtimestamp(post.due_at, timezone.utc)
            deferrals.append(Deferral(post.key, post.user_id, f"{queueing_lock(post.key)}@{when.isoformat()}", when))
    return deferrals


def _resting(record: PostRecord, now: float, recheck_s: float) -> bool:
    """A record that needs another look, but not yet: a retryable failure or an awaited public id, changed lately."""
    waiting = (record.state == State.FAILED and not record.retry_requested) or record.state == State.POSTED
    return waiting and now - record.updated_at < recheck_s
