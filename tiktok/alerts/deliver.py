"""Sending the store's events to every channel, exactly once per event and channel whichever process sends
(:class:`Alerts`): the app's runner, the CLI, ``--watch`` and each PostgreSQL worker call :meth:`Alerts.tick` after a
round's posting, and the store's deliveries (:mod:`tiktok.store.events`) make sure one of them sends each.

A tick: notice what the store cannot see by itself (:mod:`tiktok.alerts.notice`), then for each channel plan its
deliveries from its cursor (apprise channels only the kinds of NOTIFY_EVENTS; webhooks every kind), take the due ones
one at a time for :data:`HOLD_S` (``holder``: a random id per Alerts object), send, and mark each sent or failed.
A failed send is tried again on the schedule of :func:`retry_delay` (30 s, 2 min, 10 min, 1 h, then hourly, given
up after 24 hours); a channel that fails is left for this tick, so the others still go. A tick is bounded in time
(:data:`TICK_BUDGET_S`, and each send's own timeout) and never raises: a problem is a log line, never a secret.

:func:`send_test` (``python -m tiktok alerts test``) sends one test message to every channel at once, outside the
store's events and deliveries.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

from tiktok.alerts.channels import AppriseChannel, Sent, WebhookChannel, clean
from tiktok.alerts.messages import Message, alert_test_event, describe, names_of
from tiktok.alerts.notice import Notice
from tiktok.store.events import Delivery, Event
from tiktok.text import duration

log = logging.getLogger(__name__)

HOLD_S = 300.0  # a delivery taken to send is held this long: far beyond a send's timeouts, short if the sender dies
TICK_BUDGET_S = 30.0  # a tick starts no new send after this; each send is bounded by its channel's timeout
RETRY_SCHEDULE_S = (30.0, 120.0, 600.0, 3600.0)  # after the 1st, 2nd, 3rd, 4th failed try; hourly after that
GIVE_UP_AFTER_S = 24 * 3600.0  # no try is planned later than this after the first (on schedule)


def retry_delay(tries: int) -> float | None:
    """Seconds to wait after ``tries`` failed tries (1: the first failed) before the next one: 30 s, 2 min, 10 min,
    1 h, then hourly; None (give up) when that try would come more than GIVE_UP_AFTER_S after the first, had every
    try gone on schedule."""
    if tries < 1:
        raise ValueError(f"tries counts failed tries, from 1 (got {tries})")
    spent = sum(_delay(n) for n in range(1, tries))
    delay = _delay(tries)
    return None if spent + delay > GIVE_UP_AFTER_S else delay


def _delay(tries: int) -> float:
    return RETRY_SCHEDULE_S[min(tries, len(RETRY_SCHEDULE_S)) - 1]


class Channel(Protocol):
    id: str
    label: str
    kinds: frozenset[str] | None

    def send(self, event: Event, message: Message, names: Mapping[str, str] | None = None) -> Sent: ...


@dataclass
class TickReport:
    """What one tick did: events noticed, deliveries sent, failed (to retry) and given up, and the channels that
    failed (by label, never URL)."""

    noticed: int = 0
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    failing: list[str] = field(default_factory=list)
    out_of_time: bool = False


def channels_of(settings, *, clock: Callable[[], float] = time.time) -> list[Channel]:
    """The channels of ``settings``, labelled by setting and place: one per NOTIFY_URLS entry (told NOTIFY_EVENTS),
    then one per WEBHOOK_URLS entry (told every kind, signed with WEBHOOK_SECRET); none when neither is set."""
    alerts = settings.alerts
    kinds = frozenset(alerts.notify_events)
    channels: list[Channel] = [AppriseChannel(url, position=n, kinds=kinds)
                               for n, url in enumerate(alerts.notify_urls, 1)]
    if alerts.webhook_urls:
        from tiktok.services import http_session
        session = http_session()
        channels += [WebhookChannel(url, secret=alerts.webhook_secret, position=n, session=session, clock=clock)
                     for n, url in enumerate(alerts.webhook_urls, 1)]
    return channels


def send_test(settings, *, clock: Callable[[], float] = time.time) -> list[tuple[str, Sent]]:
    """Send one test message (:func:`tiktok.alerts.messages.alert_test_event`) to every channel of ``settings`` now,
    one after the other, and say how each went: (its label, :class:`Sent`). Outside the store on purpose: nothing is
    recorded, so no process sends it again. A webhook gets it as a real event's delivery (the same body, headers and
    signature) with kind ``test`` and a fresh negative id (random, never one of a stored event's, which count up from
    1, so a receiver's de-duplication never mistakes it for one)."""
    event_id = -(secrets.randbelow(2**53 - 1) + 1)  # within JSON's exact integers
    event = alert_test_event(event_id=event_id, at=clock(), emulated=settings.tiktok.emulated)
    message = describe(event)
    return [(channel.label, channel.send(event, message)) for channel in channels_of(settings, clock=clock)]


class Alerts:
    """The channels of one process and what their ticks need; built by :meth:`from_settings`."""

    def __init__(self, store, channels: list[Channel], *, notice: Notice | None = None,
                 names: Callable[[], Mapping[str, str]] | None = None, clock: Callable[[], float] = time.time,
                 timer: Callable[[], float] = time.monotonic, budget_s: float = TICK_BUDGET_S,
                 hold_s: float = HOLD_S) -> None:
        self.store = store
        self.channels = list(channels)
        self.notice = notice
        self.names = names
        self.clock, self.timer = clock, timer
        self.budget_s, self.hold_s = budget_s, hold_s
        self.holder = secrets.token_hex(8)  # who holds a delivery while this process sends it
        self._registered = False
        self._turn = 0
        self._said = ""
        self._register()

    @classmethod
    def from_settings(cls, settings, store, tokens=None, *, clock: Callable[[], float] | None = None
                      ) -> "Alerts | None":
        """The alerts of ``settings`` (NOTIFY_URLS, WEBHOOK_URLS, ...) over ``store``; None when no channel is set.
        ``tokens`` (the token store; built from the settings when None) names accounts and tells relinks."""
        if not settings.alerts.enabled:
            return None
        clock = clock or time.time
        if tokens is None:
            from tiktok.services import token_store
            tokens = token_store(settings)
        channels = channels_of(settings, clock=clock)
        notice = Notice.from_settings(settings, store, tokens, clock=clock)
        return cls(store, channels, notice=notice, names=lambda: names_of(tokens.load()), clock=clock)

    def __repr__(self) -> str:
        return f"Alerts({', '.join(channel.label for channel in self.channels)})"

    def tick(self) -> TickReport:
        """Notice, then send what is due to every channel, within the tick's budget. Never raises."""
        report = TickReport()
        try:
            self._tick(report)
            self._said = ""
        except Exception as exc:  # noqa: BLE001 (alerts never stop the run that calls them)
            said = clean(f"{type(exc).__name__}: {exc}")
            if said != self._said:  # the same problem on every tick is one line
                self._said = said
                log.warning("alerts: this tick stopped (%s); the next one tries again", " ".join(said.split())[:300])
        return report

    def _tick(self, report: TickReport) -> None:
        deadline = self.timer() + self.budget_s
        if not self._registered:
            self._register()
        if self.notice is not None:
            report.noticed = len(self.notice.run())
        names = self._names()
        order = self.channels[self._turn:] + self.channels[:self._turn]  # who goes first turns: none waits on one
        self._turn = (self._turn + 1) % max(1, len(self.channels))
        for channel in order:
            if self.timer() >= deadline:
                report.out_of_time = True
                break
            try:
                self._channel(channel, names, deadline, report)
            except Exception as exc:  # noqa: BLE001 (the store failing for one channel: the others still go)
                report.failing.append(channel.label)
                log.warning("alerts: the %s was skipped this tick (%s)", channel.label,
                            clean(f"{type(exc).__name__}: {exc}")[:300])

    def _channel(self, channel: Channel, names: Mapping[str, str], deadline: float, report: TickReport) -> None:
        kinds = None if channel.kinds is None else sorted(channel.kinds)
        while self.store.plan_deliveries(channel.id, kinds=kinds) and self.timer() < deadline:
            pass  # each plan reads one batch of events past the channel's cursor
        while self.timer() < deadline:
            taken = self.store.claim_deliveries(channel.id, holder=self.holder, hold_s=self.hold_s, limit=1)
            if not taken:
                return
            if not self._send(channel, taken[0], names, report):
                report.failing.append(channel.label)
                return  # a channel that fails is left until its next due try: the others still go
        report.out_of_time = True

    def _send(self, channel: Channel, delivery: Delivery, names: Mapping[str, str], report: TickReport) -> bool:
        event = delivery.event
        message = describe(event, names)
        sent = channel.send(event, message, names)
        if sent.ok:
            report.sent += 1
            if not self.store.delivery_sent(delivery, holder=self.holder):
                log.info("alerts: event %d reached the %s after its hold lapsed (another process may send it too)",
                         event.id, channel.label)
            log.info("alert sent to the %s: %s", channel.label, message.title)
            return True
        tries = delivery.tries + 1
        delay = retry_delay(tries)
        retry_at = None if delay is None else self.clock() + delay
        self.store.delivery_failed(delivery, holder=self.holder, retry_at=retry_at, error=sent.reason)
        if delay is None:
            report.gave_up += 1
            log.error("alert given up after %d tries: %s (event %d: %s)", tries, sent.reason, event.id, message.title)
        else:
            report.failed += 1
            log.warning("alert not sent: %s; trying again in %s (event %d)", sent.reason, duration(delay), event.id)
        return False

    def _names(self) -> Mapping[str, str]:
        if self.names is None:
            return {}
        try:
            return self.names()
        except Exception:  # noqa: BLE001 (the token store unreadable: open_ids then; the notice says what is wrong)
            return {}

    def _register(self) -> None:
        try:
            self.store.register_channels([channel.id for channel in self.channels])
            self._registered = True
        except Exception as exc:  # noqa: BLE001 (tried again at the next tick)
            log.warning("alerts: could not register the channels with the store (%s); the next tick tries again",
                        clean(f"{type(exc).__name__}: {exc}")[:300])

