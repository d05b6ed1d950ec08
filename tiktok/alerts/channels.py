"""The two kinds of alert channel: an apprise URL (:class:`AppriseChannel`: email, Slack, Discord, Telegram, ntfy and
the rest of apprise's services) and a signed webhook (:class:`WebhookChannel`). Each sends one event's words and says
how it went (:class:`Sent`), never raising: a channel that failed is tried again later (:mod:`tiktok.alerts.deliver`).

A channel's URL holds its credentials (an SMTP password, a bot token, a webhook's secret path), so nothing here
says it: a channel is named by its setting and place (``email channel 1 of NOTIFY_URLS``), failures carry plain
reasons without it, and the parts of every channel's URL that could be secret are masked (``***``) in the lines
apprise and urllib3 log (:func:`mask_secrets`).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from tiktok.alerts import webhooks
from tiktok.alerts.messages import Message
from tiktok.store.events import Event, channel_id

APPRISE_TIMEOUT_S = 20.0  # apprise's limit for one service's send (AppriseAsset.service_timeout)
WEBHOOK_TIMEOUT_S = (5.0, 10.0)  # connect, read: a receiver answers at once (it queues its own work)
MIN_SECRET_PART = 4  # URL parts shorter than this are not masked (they would mask ordinary words)


@dataclass(frozen=True)
class Sent:
    """How a send went: ``ok``, or ``reason`` in plain words (naming the channel, never its URL)."""

    ok: bool
    reason: str = ""


class AppriseChannel:
    """One NOTIFY_URLS entry: apprise with that one URL; ``kinds`` are the events it is told (NOTIFY_EVENTS)."""

    def __init__(self, url: str, *, position: int, kinds: frozenset[str] | None = None,
                 timeout_s: float = APPRISE_TIMEOUT_S) -> None:
        import apprise

        self.id = channel_id(url)
        self.kinds = kinds
        mask_secrets(url)
        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory", service_timeout=timeout_s))
        added = self._apprise.add(url)
        service = next(iter(self._apprise), None) if added else None
        self.label = f"{_service_name(service)} channel {position} of NOTIFY_URLS"
        self._usable = added

    def __repr__(self) -> str:
        return f"AppriseChannel({self.label!r})"

    def send(self, event: Event, message: Message, names: Mapping[str, str] | None = None) -> Sent:
        if not self._usable:
            return Sent(False, f"the {self.label} is not a URL apprise can read")
        heard = _Heard()
        try:
            with heard.listening():
                ok = self._apprise.notify(title=message.title, body=message.text)
        except Exception as exc:  # noqa: BLE001 (a plugin's bug must not stop the other channels)
            return Sent(False, f"the {self.label} failed ({type(exc).__name__})")
        if ok:
            return Sent(True)
        said = heard.last()
        return Sent(False, f"the {self.label} did not take the alert" + (f" (apprise said: {said})" if said else ""))


class WebhookChannel:
    """One WEBHOOK_URLS entry: every event POSTed as signed JSON; 2xx is sent, anything else is a failure to retry."""

    kinds: frozenset[str] | None = None  # webhooks are told every kind of event

    def __init__(self, url: str, *, secret: str, position: int, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time, timeout_s: tuple[float, float] = WEBHOOK_TIMEOUT_S) -> None:
        self.id = channel_id(url)
        self.label = f"webhook {position} of WEBHOOK_URLS"
        self._url, self._secret = url, secret
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout_s
        mask_secrets(url, host=False)  # a web address's host is a name, not a credential

    def __repr__(self) -> str:
        return f"WebhookChannel({self.label!r})"

    def send(self, event: Event, message: Message, names: Mapping[str, str] | None = None) -> Sent:
        raw = webhooks.body(event, names)
        headers = webhooks.signed_headers(event, raw, secret=self._secret, timestamp=int(self._clock()))
        try:
            answer = self._session.post(self._url, data=raw, headers=headers, timeout=self._timeout,
                                        allow_redirects=False)
            answer.close()
        except requests.Timeout:
            return Sent(False, f"the {self.label} did not answer within {self._timeout[1]:g} s")
        except requests.ConnectionError:
            return Sent(False, f"the {self.label} could not be reached (its server refused or dropped the "
                               "connection, or its name did not resolve)")
        except requests.RequestException as exc:  # its text may quote the URL: only the kind of failure is said
            return Sent(False, f"the {self.label} could not be sent ({type(exc).__name__})")
        if 200 <= answer.status_code < 300:
            return Sent(True)
        return Sent(False, f"the {self.label} answered HTTP {answer.status_code}")


def _service_name(service) -> str:
    """``email`` for apprise's E-Mail service, else its own name (``Discord``, ``ntfy``, ...)."""
    name = str(getattr(service, "service_name", "") or "apprise")
    return "email" if name.lower() in ("e-mail", "email") else name


# -- apprise's warnings, heard while one channel sends -----------------------------------------------------------

class _Heard(logging.Handler):
    """The warnings apprise logs in this thread while it sends (masked: :func:`mask_secrets`), for the reason."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self.lines.append(_MASK.clean(record.getMessage()))

    @contextmanager
    def listening(self) -> Iterator[None]:
        logger = logging.getLogger("apprise")
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)

    def last(self) -> str:
        line = " ".join(self.lines[-1].split()) if self.lines else ""
        return line if len(line) <= 200 else line[:197] + "..."


# -- masking -----------------------------------------------------------------------------------------------------------

class _Mask(logging.Filter):
    """Replaces every known secret part of a channel URL by ``***`` in a logger's lines; on apprise's logger it also
    drops apprise's own INFO lines ("Sent Email to ...") unless the process logs at DEBUG (``-v``): the alerts' own
    line says what was sent (issue 24: quiet logs)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: tuple[str, ...] = ()  # the longest first: a URL before its pieces; replaced whole, never changed
        self._lock = threading.Lock()

    def add(self, parts: set[str]) -> None:
        with self._lock:
            self._parts = tuple(sorted(set(self._parts) | parts, key=len, reverse=True))

    def clean(self, text: str) -> str:
        for part in self._parts:  # a tuple read once: another thread adding makes a new one
            if part in text:
                text = text.replace(part, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "apprise" and record.levelno == logging.INFO \
                and logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            return False
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True


_MASK = _Mask()
_MASKED_LOGGERS = ("apprise", "urllib3.connectionpool")  # apprise's own lines; urllib3's request lines (with -v)


def secret_parts(url: str, *, host: bool = True) -> set[str]:
    """The parts of ``url`` that may be credentials: the whole URL, its user and password, its host (``host``: some
    apprise services take a token there), each path segment and each query value (as written and decoded), when at
    least MIN_SECRET_PART characters long."""
    parts = {url}
    try:
        split = urlsplit(url)
        found = [split.username, split.password, split.path, split.query, *split.path.split("/"),
                 *(value for _, value in parse_qsl(split.query, keep_blank_values=True))]
        if host:
            found += [split.hostname, split.netloc]
    except ValueError:
        found = []
    for part in found:
        if part:
            parts |= {part, unquote(part)}
    return {part for part in parts if len(part) >= MIN_SECRET_PART}


def clean(text: str) -> str:
    """``text`` with every secret part of a channel URL known to this process masked (for a log line)."""
    return _MASK.clean(text)


def mask_secrets(url: str, *, host: bool = True) -> None:
    """Mask the parts of ``url`` that may be secret in apprise's and urllib3's log lines, from now on."""
    _MASK.add(secret_parts(url, host=host))
    for name in _MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)
