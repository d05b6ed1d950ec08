"""Throwaway receivers for what alerts send, both real servers on 127.0.0.1 in this process: an SMTP server
(aiosmtpd) that keeps every message it is given, and a webhook receiver (real HTTP, a thread) that keeps every
request's headers and raw body and answers the statuses a test asks for.

Fixtures (registered for every test by tests/conftest.py): ``smtp_server`` and ``webhook_receiver``. Waiting for
what a sender sends polls with a deadline (:meth:`SmtpServer.wait_for`, :meth:`WebhookReceiver.wait_for`); nothing
sleeps for a fixed time.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Iterator
from urllib.parse import quote

import pytest

WAIT_S = 20.0  # only ever reached when nothing arrives: the test then fails with what did
SMTP_USER = "alerts"
SMTP_PASSWORD = "smtp-pa55word-never-logged"  # AUTH PLAIN over plain SMTP: the receiver takes only this one


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    sender: str
    recipients: tuple[str, ...]
    raw: bytes = field(repr=False)

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body (or the HTML one when there is no plain part)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return "" if part is None else part.get_content()


class _Collect:
    """aiosmtpd's handler: keep each message (the server answers 250) or refuse it while told to."""

    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, smtp, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.server._lock:
            if self.server._refuse > 0:
                self.server._refuse -= 1
                return "451 4.3.0 the test's server refused this message"
            self.server.messages.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 235 or 535 itself


class SmtpServer:
    """A local SMTP server (plain SMTP with AUTH, no TLS) on a free port; ``messages`` in the order received."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._lock = threading.Lock()
        self._refuse = 0
        self.controller = None
        self.host, self.port = "127.0.0.1", 0

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        for _ in range(5):  # a free port may be taken between the probe and the bind: try another
            self.port = _free_port()
            controller = Controller(_Collect(self), hostname=self.host, port=self.port, authenticator=_authenticate,
                                    auth_require_tls=False, ready_timeout=WAIT_S)
            try:
                controller.start()
            except Exception:  # noqa: BLE001 (aiosmtpd raises what the bind or its readiness check raised)
                continue
            self.controller = controller
            return self
        raise RuntimeError("the test's SMTP server could not start on a free loopback port")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, *, to: str = "creator@example.com", sender: str = "alerts@example.com",
            password: str = SMTP_PASSWORD) -> str:
        """An apprise URL for this server: ``mailto://`` is plain SMTP (no TLS) to the host and port given."""
        return (f"mailto://{SMTP_USER}:{quote(password, safe='')}@{self.host}:{self.port}"
                f"?from={quote(sender)}&to={quote(to)}")

    def refuse_next(self, count: int) -> None:
        """Answer the next ``count`` messages with 451 (a temporary refusal): none of them is kept."""
        with self._lock:
            self._refuse = count

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Mail]:
        """The messages once there are at least ``count``; AssertionError saying how many came by the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.messages)
            if len(got) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(got) >= count, f"expected {count} messages, the SMTP server received {len(got)}"
        return got


@dataclass(frozen=True)
class Received:
    """One request as the webhook receiver got it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names as sent, case kept; look them up with header()
    body: bytes
    status: int

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 (werkzeug, in a thread) that records every request and answers the statuses
    of :meth:`answer` in turn, then 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._statuses: list[int] = []
        self._lock = threading.Lock()
        self.running = None

    def start(self) -> "WebhookReceiver":
        from tiktok.emulator.serving import serve_in_thread

        self.running = serve_in_thread(self._app, log_requests=False)  # no access log: paths may hold tokens
        return self

    def stop(self) -> None:
        if self.running is not None:
            self.running.shutdown()
            self.running = None

    @property
    def url(self) -> str:
        assert self.running is not None
        return self.running.url

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order; 200 after them."""
        with self._lock:
            self._statuses = list(statuses)

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Received]:
        """The requests once there are at least ``count``; AssertionError saying how many came by the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.requests)
            if len(got) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(got) >= count, f"expected {count} requests, the webhook receiver got {len(got)}"
        return got

    def _app(self, environ, start_response) -> Iterator[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 200
            self.requests.append(Received(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), headers, body,
                                          status))
        start_response(f"{status} {'OK' if status < 400 else 'Test Says No'}", [("Content-Type", "text/plain")])
        return iter([b"ok" if status < 400 else b"no"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A local SMTP server for the test; its own log (``mail.log``, which logs commands) is kept to warnings."""
    log = logging.getLogger("mail.log")
    level = log.level
    log.setLevel(logging.WARNING)
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
        log.setLevel(level)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local webhook receiver for the test."""
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
