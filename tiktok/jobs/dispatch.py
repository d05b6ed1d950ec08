"""Which jobs the queue needs now: the dispatcher's decisions, pure (entries, records, live claims and now given).

- An entry not started whose ``post_at`` is still to come gets a job deferred *to its post_at*; its queueing lock
  carries the time, so a rescheduled entry gets a job at its new time (the old job, if it runs, finds the entry
  scheduled and posts nothing).
- An entry that needs work now (due, to resume, a retry asked for, a failure to try again, a public id to look for)
  gets a job now. Its queueing lock is the entry's, so there is never more than one waiting.
- An entry some session is posting right now (a live claim) gets nothing: that worker is on it. If the worker dies,
  its claim dies with its connection and the next dispatch defers a job that resumes the post.
- Failures that retry by themselves, and public ids still to come, are looked at again only ``recheck_s`` after
  their record last changed, so a post TikTok keeps refusing for an hour is not retried every few seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timezone

from tiktok.exitcodes import SCHEDULED
from tiktok.posting.manifest import PostRequest
from tiktok.posting.results import FAILED, POSTED, PostRecord, entry_key
from tiktok.posting.runner import RunOptions, plan_entries

RECHECK_S = 60.0  # a retryable failure or an awaited public id is looked at again this long after its last change


@dataclass(frozen=True)
class Deferral:
    key: str
    user_id: str
    queueing_lock: str
    at: datetime | None = None  # None: now


def plan_deferrals(entries: Sequence[PostRequest], records: Mapping[str, PostRecord], live: Set[str], *,
                   now: float, grace_s: float, recheck_s: float = RECHECK_S) -> list[Deferral]:
    """The jobs to defer, in queue order (a job already waiting under the same queueing lock is not repeated)."""
    work, settled = plan_entries(entries, dict(records), now=now, options=RunOptions(grace_s=grace_s))
    chosen = {entry.index for entry in work}
    deferrals = []
    for entry in entries:
        key = entry_key(entry)
        if key in live:
            continue
        if entry.index in chosen:
            record = records.get(key)
            if record is not None and _resting(record, now, recheck_s):
                continue
            deferrals.append(Deferral(key, entry.user_id, f"post:{key}"))
        elif entry.index in settled and settled[entry.index].status == SCHEDULED and entry.due_at is not None:
            when = datetime.fromtimestamp(entry.due_at, timezone.utc)
            deferrals.append(Deferral(key, entry.user_id, f"post:{key}@{when.isoformat()}", when))
    return deferrals


def _resting(record: PostRecord, now: float, recheck_s: float) -> bool:
    """A record that needs another look, but not yet: a retryable failure or an awaited public id, changed lately."""
    waiting = (record.state == FAILED and not record.retry_requested) or record.state == POSTED
    return waiting and now - record.updated_at < recheck_s
