"""An event in plain words for creators (:func:`describe`): a title, a body of whole sentences ending with what to do,
a details line for support (TikTok's code, its message, the log_id) and the post's public link when there is one.
Email, chat, webhooks and the app's events page all show these words. Pure: an event in, words out.

- A post's failure reads through :func:`tiktok.posting.failures.failure_of` (the Posts page's words for TikTok's
  codes, :mod:`tiktok.words`); an account's relink through :func:`tiktok.words.relink`.
- Accounts are named as people know them (issue 24: "@names instead of open_ids wherever the name is known"): the
  ``names`` given (open_id -> ``@username`` or display name, from the token store: :func:`names_of`), else the
  ``@username`` the post or the event recorded, and the open_id only when nothing else is known.
- A published post's link is TikTok's ``https://www.tiktok.com/@<username>/video/<post id>`` once TikTok gave the
  public id (as the Posts page builds it, :func:`tiktok.web.board.post_link`).
- Emulated events (a post of the emulator, an account linked at it) say so in the title and the body, and never
  link to TikTok: nothing may suggest they reached TikTok.

The facts each kind carries (``event.data``): a post's events (:func:`tiktok.store.events.post_events`) the record
and ``post_id``; the others those :mod:`tiktok.alerts.notice` records: ``reason`` (a relink), ``days`` and
``expires_at`` (a refresh token running out), ``since`` and ``stuck_after_s`` (a stuck post, with its record),
``worker_id``, ``name``, ``last_heartbeat`` and ``silent_s`` (a silent worker), ``post_id``, ``due_at`` and
``grace_s`` (a missed post), ``count``, ``cap`` and ``first_at`` (the daily cap nearly reached), ``counts`` by kind,
``complete``, ``relink`` and ``failed`` (the daily digest); accounts' ``username``, ``display_name`` and ``emulated``
when known. A test message (:data:`TEST`, :func:`alert_test_event`: ``python -m tiktok alerts test``) is never
stored; its words say it is a test from this tool, and ``emulated`` in emulated mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Callable, Mapping

from tiktok.posting.failures import failure_of
from tiktok.store import events as ev
from tiktok.store.events import Event
from tiktok.store.records import PUBLIC, PostRecord, State
from tiktok.text import count, duration, moment
from tiktok.words import relink

TIKTOK_WEB = "https://www.tiktok.com"
EMULATED = "Emulated: this did not reach TikTok."
# ``python -m tiktok alerts test``'s kind: sent to every channel at once, never recorded (not in the store's KINDS)
TEST = "test"


@dataclass(frozen=True)
class Message:
    """An event in words: ``title`` one line; ``body`` whole sentences; ``details`` TikTok's code, message and log_id
    ("" when none); ``link`` the post on TikTok (None when there is none yet, or the post is emulated)."""

    title: str
    body: str
    details: str = ""
    link: str | None = None
    kind: str = ""
    emulated: bool = False

    @property
    def text(self) -> str:
        """The body with the link and the details, as an email or chat message shows it."""
        parts = [self.body]
        if self.link:
            parts.append(f"Link: {self.link}")
        if self.details:
            parts.append(f"Details: {self.details}")
        return "\n\n".join(parts)


def names_of(accounts: Mapping[str, Any]) -> dict[str, str]:
    """open_id -> how to name each account (``@username``, else its display name), from the token store's
    :class:`~tiktok.auth.tokens.Account` values."""
    found = {}
    for open_id, account in accounts.items():
        username, display = getattr(account, "username", ""), getattr(account, "display_name", "")
        if username or display:
            found[open_id] = f"@{username}" if username else display
    return found


def describe(event: Event, names: Mapping[str, str] | None = None, *, tz: tzinfo | None = None) -> Message:
    """``event`` in plain words (see the module docstring); ``names`` maps open_ids to ``@usernames``; times are
    shown in ``tz`` (default the machine's zone), the zone named."""
    words = _KINDS.get(event.kind)
    if words is None:  # a kind a newer version recorded: still something a person should see
        return Message(f"Something happened: {event.kind}", f"An event of kind {event.kind} was recorded.",
                       kind=event.kind)
    return words(event, _Names(names or {}), tz)


def account_name(event: Event, names: Mapping[str, str] | None = None) -> str | None:
    """How ``event``'s account is named (``@username``, a display name), or None when only its open_id is known."""
    record = event.data.get("record")
    username = record.get("username") if isinstance(record, dict) else None
    who = _Names(names or {}).who(event.user_id, username or event.data.get("username"),
                                  event.data.get("display_name"))
    return None if who.startswith(("the account ", "an account")) else who


class _Names:
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def who(self, open_id: str | None, username: str | None = None, display_name: str | None = None) -> str:
        """How to name an account: the names given, else the ``@username`` (or display name) the event knows, else
        its open_id."""
        if open_id and self.names.get(open_id):
            return self.names[open_id]
        if username:
            return username if username.startswith("@") else f"@{username}"
        if display_name:
            return display_name
        return f"the account {open_id}" if open_id else "an account"


def _sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a full stop."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _emulated(title: str, body: str, emulated: bool) -> tuple[str, str]:
    if not emulated:
        return title, body
    if title.startswith("Post "):  # our own word, not a name: "Emulated: post 17 ..."
        title = "p" + title[1:]
    return f"Emulated: {title}", f"{body} {EMULATED}"


def _post_facts(event: Event) -> tuple[PostRecord | None, str]:
    post_id = event.post_id if event.post_id is not None else event.data.get("post_id")
    try:
        record = event.record
    except (TypeError, ValueError):  # a record this version cannot read: the words without it
        record = None
    return record, f"post {post_id}" if post_id is not None else "a post"


def _post_who(event: Event, record: PostRecord | None, names: _Names) -> str:
    return names.who(event.user_id or (record.user_id if record else None), record.username if record else None)


def post_link(record: PostRecord | None, names: Mapping[str, str] | None = None) -> str | None:
    """TikTok's public link of a published post: once its public id is known and its username is (the record's,
    else an ``@username`` among ``names``); never for an emulated post."""
    if record is None or not record.post_ids or record.emulated or record.state != State.POSTED:
        return None
    username = record.username or ""
    if not username and names:
        named = names.get(record.user_id, "")
        username = named[1:] if named.startswith("@") else ""
    return f"{TIKTOK_WEB}/@{username}/video/{record.post_ids[0]}" if username else None


def _post_failed(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    title = _cap(f"{label} for {who} failed")
    if record is None:
        return Message(title, "The attempt failed: the Posts page says why.", kind=event.kind)
    failure = failure_of(record)
    reason = _lower(_sentence(failure.reason))
    if record.outcome == "bad_input":  # the entry itself: runs send it once it is changed
        body = (f"{_cap(label)} for {who} cannot be sent as it is: {reason} Edit the post (or its manifest entry): "
                "the next run sends it once it is fixed.")
    else:
        body = (f"{_cap(label)} for {who} failed: {reason} No run tries it again by itself: press Retry on the Posts "
                "page (or run with --retry-failed) when it is ready.")
    title, body = _emulated(title, body, record.emulated)
    return Message(title, body, failure.details, kind=event.kind, emulated=record.emulated)


def _post_needs_person(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    title = _cap(f"{label} for {who} may already be on TikTok")
    body = (f"A run sent {label} to TikTok and never learned what became of it, so no run sends it again by itself "
            f"(it could be posted twice). Look at {who}'s profile: if the post is not there, press Retry on the Posts "
            "page (or run with --force); if it is, press Cancel.")
    details = ""
    if record is not None:  # what the run recorded (a sentence of this tool's), and TikTok's log_id
        said = f"the run said: {record.error}" if record.error else ""
        apart = failure_of(record).details
        details = "; ".join(part for part in (said, "" if apart in said else apart) if part)
    emulated = bool(record and record.emulated)
    title, body = _emulated(title, body, emulated)
    return Message(title, body, details, kind=event.kind, emulated=emulated)


def _post_published(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    if record is not None and record.emulated:
        title = f"Emulated: {label} for {who} was published by the TikTok emulator"
        body = f"The TikTok emulator published {label} for {who}. {EMULATED}"
        return Message(title, body, kind=event.kind, emulated=True)
    link = post_link(record, names.names)
    title = _cap(f"{label} for {who} is published on TikTok")
    body = f"TikTok published {label} for {who}."
    if link:
        body += f" It is public at {link}"
    elif record is not None and record.privacy == PUBLIC:
        body += (" Its public link comes once TikTok's moderation lets it through (usually within minutes, "
                 "sometimes hours): another message says when it arrives.")
    elif record is not None and record.privacy:
        body += " It is not public (who can see it: " + _privacy(record.privacy) + "), so it has no public link."
    details = f"publish_id {record.publish_id}" if record is not None and record.publish_id else ""
    return Message(title, body, details, link, kind=event.kind)


def _public_link(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    if record is not None and record.emulated:
        return Message(f"Emulated: {label} for {who} got its public id from the TikTok emulator",
                       f"The TikTok emulator's moderation let {label} for {who} through. {EMULATED}",
                       kind=event.kind, emulated=True)
    link = post_link(record, names.names)
    body = f"TikTok's moderation let {label} for {who} through: it is public"
    body += f" at {link}" if link else " (its link needs the account's @username, which is not known here)."
    details = f"post id {record.post_ids[0]}" if record is not None and record.post_ids else ""
    return Message(_cap(f"{label} for {who} is public on TikTok"), body, details, link, kind=event.kind)


def _post_in_inbox(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    title = _cap(f"{label} for {who} is in the TikTok inbox")
    body = (f"{_cap(label)} went to {who}'s TikTok inbox as a draft: open TikTok on the phone, finish it there and "
            "post it.")
    emulated = bool(record and record.emulated)
    title, body = _emulated(title, body, emulated)
    return Message(title, body, kind=event.kind, emulated=emulated)


def _post_stuck(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    record, label = _post_facts(event)
    who = _post_who(event, record, names)
    since = event.data.get("since")
    waited = duration(max(0.0, event.at - since)) if isinstance(since, (int, float)) else "a long time"
    step = {State.PENDING_INIT: "waiting for TikTok to answer its start", State.UPLOADING: "uploading",
            State.PROCESSING: "being processed by TikTok"}.get(record.state, "in progress") if record else "in progress"
    title = _cap(f"{label} for {who} has been in progress for {waited}")
    body = (f"{_cap(label)} for {who} has been {step} for {waited} with no end. Runs go on with it by themselves; "
            "if it stays, check that a run (the app, cron or a worker) is running, then look at the Posts page.")
    details = f"publish_id {record.publish_id}" if record is not None and record.publish_id else ""
    emulated = bool(record and record.emulated)
    title, body = _emulated(title, body, emulated)
    return Message(title, body, details, kind=event.kind, emulated=emulated)


def _account_relink(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    who = names.who(event.user_id, data.get("username"), data.get("display_name"))
    words = relink(str(data.get("reason") or ""))
    title = _cap(f"{who} must be linked again")
    body = (f"{_sentence(words.sentence)} Until then no post for {who} can be made: its scheduled posts wait and "
            "go once it is linked again.")
    emulated = bool(data.get("emulated"))
    title, body = _emulated(title, body, emulated)
    return Message(title, body, words.details, kind=event.kind, emulated=emulated)


def _refresh_expiring(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    who = names.who(event.user_id, data.get("username"), data.get("display_name"))
    expires_at = data.get("expires_at")
    if isinstance(expires_at, (int, float)):  # the time left when it was noticed (the threshold is the key's)
        left, when = duration(max(60.0, expires_at - event.at), parts=1), f" on {moment(expires_at, tz)}"
    else:
        left, when = f"{data.get('days', 'a few')} days", ""
    title = _cap(f"{who}'s sign-in with TikTok runs out in {left}")
    body = (f"TikTok's sign-in for {who} runs out{when}; refreshing does not extend it. Link the account again in "
            "the app before then (Accounts page), or its posts stop until it is.")
    emulated = bool(data.get("emulated"))
    title, body = _emulated(title, body, emulated)
    return Message(title, body, kind=event.kind, emulated=emulated)


def _worker_silent(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    name = data.get("name") or f"worker {data.get('worker_id', '?')}"
    last = data.get("last_heartbeat")
    silent = data.get("silent_s")
    when = f" at {moment(last, tz)}" if isinstance(last, (int, float)) else ""
    ago = f", {duration(silent)} before this message" if isinstance(silent, (int, float)) else ""
    title = f"A worker went silent: {name}"
    body = (f"The worker {name} last said it was alive{when}{ago}: it stopped, froze or lost the database. The "
            "other workers take over its posts; start it again (python -m tiktok worker) or look at its machine. "
            "python -m tiktok workers lists the workers and their heartbeats.")
    details = f"Procrastinate worker id {data['worker_id']}" if "worker_id" in data else ""
    return Message(title, body, details, kind=event.kind)


def _post_missed(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    _, label = _post_facts(event)
    who = names.who(event.user_id, data.get("username"), data.get("display_name"))
    due_at, grace = data.get("due_at"), data.get("grace_s")
    due = f" at {moment(due_at, tz)}" if isinstance(due_at, (int, float)) else ""
    within = f" within {duration(grace)} of its time" if isinstance(grace, (int, float)) else " in time"
    title = _cap(f"{label} for {who} missed its time")
    body = (f"{_cap(label)} for {who} was due{due}, and no run started it{within}, so it was not posted: a post that "
            "late is rarely wanted, and none is sent late by itself. To post it now or later, give it a new time "
            "on the Posts page (Reschedule), or cancel it there; a run with --force also posts it now. Posts go "
            "out on time only while the app, cron or a worker is running: check that one is.")
    emulated = bool(data.get("emulated"))
    title, body = _emulated(title, body, emulated)
    return Message(title, body, kind=event.kind, emulated=emulated)


def _daily_cap_near(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    who = names.who(event.user_id, data.get("username"), data.get("display_name"))
    posts = count(int(data.get("count") or 0), "post")
    cap = data.get("cap", "15")
    first = data.get("first_at")
    title = _cap(f"{who} has nearly reached TikTok's daily post cap")
    body = (f"{who} has published {posts} through this tool in the last 24 hours; TikTok allows about {cap} a day "
             "across all apps, so the next ones may be refused until tomorrow.")
    if isinstance(first, (int, float)):
        body += (f" The first of them leaves the 24 hours at {moment(first + 86400, tz)}: give the posts still "
                 f"scheduled for {who} before then a later time on the Posts page.")
    emulated = bool(data.get("emulated"))
    title, body = _emulated(title, body, emulated)
    return Message(title, body, kind=event.kind, emulated=emulated)


# the daily digest's words for each kind counted: (a count of what, the verb), in the order told
_DIGEST_WORDS: tuple[tuple[str, str, str], ...] = (
    (ev.POST_PUBLISHED, "post", "published"),
    (ev.PUBLIC_LINK, "public link", "arrived after moderation"),
    (ev.POST_IN_INBOX, "draft", "sent to the TikTok inbox"),
    (ev.POST_FAILED, "post", "failed"),
    (ev.POST_NEEDS_PERSON, "post", "may already be on TikTok (a person must look)"),
    (ev.POST_MISSED, "post", "missed its time"),
    (ev.POST_STUCK, "post", "stuck in progress"),
    (ev.ACCOUNT_RELINK, "account", "had to be linked again"),
    (ev.REFRESH_EXPIRING, "sign-in", "about to run out"),
    (ev.DAILY_CAP_NEAR, "account", "near TikTok's daily post cap"),
    (ev.WORKER_SILENT, "worker", "gone silent"),
)


def _daily_digest(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    data = event.data
    counts = {kind: n for kind, n in (data.get("counts") or {}).items() if isinstance(n, int) and n > 0}
    least = "" if data.get("complete", True) else "at least "
    relink = [names.who(item.get("open_id"), item.get("username"), item.get("display_name"))
              for item in data.get("relink") or [] if isinstance(item, dict)]
    failed = int(data.get("failed") or 0)
    told = [(n, noun, verb) for kind, noun, verb in _DIGEST_WORDS if (n := counts.get(kind, 0))]
    others = sum(n for kind, n in counts.items() if kind not in {k for k, _, _ in _DIGEST_WORDS} | {ev.DAILY_DIGEST})
    title = (f"Last 24 hours: {least}{counts.get(ev.POST_PUBLISHED, 0)} published, {counts.get(ev.POST_FAILED, 0)} "
             f"failed, {count(len(relink), 'account')} to relink")
    if told or others:
        happened = [f"{count(n, noun)} {_was(n, verb)}" for n, noun, verb in told]
        if others:
            happened.append(f"{count(others, 'other event')}")
        more = " (at least: more happened than the digest reads)" if least else ""
        body = f"In the last 24 hours{more}: {', '.join(happened)}."
    else:
        body = "Nothing happened in the last 24 hours."
    attention = []
    if relink:
        attention.append(f"{', '.join(relink)} must be linked again (Accounts page)")
    if failed:
        attention.append(f"{count(failed, 'post')} {'is' if failed == 1 else 'are'} in the Failed group of the "
                         f"Posts page (failed, or missed {'its' if failed == 1 else 'their'} time): retry, reschedule "
                         f"or cancel {'it' if failed == 1 else 'them'} there")
    body += f" Needs a person now: {'; '.join(attention)}." if attention else " Nothing needs a person now."
    emulated = bool(data.get("emulated"))
    if emulated:
        title, body = f"Emulated: {title[:1].lower()}{title[1:]}", f"{body} {EMULATED}"
    return Message(title, body, kind=event.kind, emulated=emulated)


def _was(n: int, verb: str) -> str:
    """``verb`` after a count: "missed its time" for one post, "missed their time" for more; "gone silent" reads
    "went silent"."""
    if verb == "gone silent":
        return "went silent"
    if verb.startswith(("near ", "stuck ", "about ")):
        return ("was " if n == 1 else "were ") + verb
    return verb if n == 1 else verb.replace("its time", "their time")


def alert_test_event(*, event_id: int, at: float, emulated: bool) -> Event:
    """The event of a test message (``python -m tiktok alerts test``): kind :data:`TEST`, sent outside the store, so
    ``event_id`` is one no stored event has (the command's is negative: stored ids count up from 1)."""
    return Event(event_id, f"test:{event_id}", TEST, at, data={"emulated": emulated})


def _test(event: Event, names: _Names, tz: tzinfo | None) -> Message:
    title = "Test message from the TikTok local tool"
    body = ("This is a test sent by python -m tiktok alerts test, to check that the tool's alerts reach this "
            "channel. Nothing happened to any post or account.")
    emulated = bool(event.data.get("emulated"))
    if emulated:
        title = "Emulated: test message from the TikTok local tool"
        body += " The tool runs in emulated mode: its posts go to the TikTok emulator, never to TikTok."
    return Message(title, body, kind=event.kind, emulated=emulated)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower(text: str) -> str:
    """A sentence that goes after a colon: lower case first, unless it starts with a name (TikTok, @ada)."""
    if text.startswith(("TikTok", "@")) or text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _privacy(level: str) -> str:
    return {"MUTUAL_FOLLOW_FRIENDS": "friends", "FOLLOWER_OF_CREATOR": "followers",
            "SELF_ONLY": "only the account"}.get(level, level)


_KINDS: dict[str, Callable[[Event, _Names, tzinfo | None], Message]] = {
    ev.POST_FAILED: _post_failed,
    ev.POST_NEEDS_PERSON: _post_needs_person,
    ev.POST_PUBLISHED: _post_published,
    ev.POST_IN_INBOX: _post_in_inbox,
    ev.PUBLIC_LINK: _public_link,
    ev.POST_STUCK: _post_stuck,
    ev.ACCOUNT_RELINK: _account_relink,
    ev.REFRESH_EXPIRING: _refresh_expiring,
    ev.WORKER_SILENT: _worker_silent,
    ev.POST_MISSED: _post_missed,
    ev.DAILY_CAP_NEAR: _daily_cap_near,
    ev.DAILY_DIGEST: _daily_digest,
    TEST: _test,
}
