"""Serving the app (:func:`serve`): the emulator beside it when no TikTok app is configured, waitress in front.

``python app.py`` and ``python -m tiktok app`` (tiktok/commands/app.py) parse their options before anything heavy
loads, then call :func:`serve` with the settings.
"""

from __future__ import annotations

import signal
import socket
import sys

from tiktok.config import LOOPBACK_HOSTS, Settings
from tiktok.errors import ConfigError

# Request bodies held in memory: a megabyte and a little slack, on every route. Waitress answers a bigger
# Content-Length 413 before reading a byte of the body, and a chunked body 413 once it passes the limit; a body within
# it is held in memory (inbuf_overflow), so no request body is ever written to TMPDIR. (Waitress's default, 1 GB
# spooled to TMPDIR before the app saw a byte, let any page fill the disk: issue 23.) The one exception is an upload
# slice the app expects, to the byte, from the browser that started the upload: its body goes straight into the
# upload's part file as it arrives, never into memory (refusing_channel, tiktok.web.uploads.Uploads.direct_target).
SMALL_BODY_BYTES = 1024 * 1024
BODY_SLACK_BYTES = 64 * 1024
RECV_BYTES = 1024 * 1024  # read from a socket at once (waitress: 8 KiB): a small body in one or two trips
# Answers: a request thread waits while this much of its answer is still unsent (waitress: 16 MiB), and what waits is
# held in memory, never spooled to TMPDIR (waitress spools past 1 MiB: a video preview read slowly put 21 MB in TMPDIR
# per connection). A streamed answer (a file, a range of one) so holds about this much memory a connection, and a
# 300 MB preview still streams at the same speed as with waitress's 16 MiB (0.40-0.46 s on loopback, both).
UNSENT_ANSWER_BYTES = 256 * 1024
# Each connection's kernel receive buffer (Linux doubles it). Left to grow (here up to 32 MB), a body refused for its
# size had several megabytes taken into the kernel's buffers before the refusal closed the connection.
RECEIVE_BUFFER_BYTES = 512 * 1024
THREADS = 8
# Waitress reads requests in one event loop and hands only complete ones to THREADS, so idle or slow sockets cost
# a connection each, not a thread: the connection limit is what they can use up. Its default (100) let 98 idle
# sockets, kept open by a byte every few seconds, shut everyone else out (issue 19).
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 30  # a connection silent this long is closed (waitress: 120)
CLEANUP_INTERVAL_S = 5  # how often silent connections are looked for (waitress: 30)
SPARE_FILES = 128  # open files besides connections: token and post stores, logs, uploads' temporary files


def serve(settings: Settings, *, trusted_proxy: str | None = None) -> int:
    """Run the app until Ctrl-C or SIGTERM (exit 0). A setting that makes serving unsafe or impossible (a weak
    APP_PASSWORD, no password beyond loopback, a port in use) is a ConfigError before anything listens."""
    import logging

    log = logging.getLogger("tiktok.app")
    from tiktok.web.security import password_problem
    problem = password_problem(settings.app.app_password)
    if problem:
        raise ConfigError(problem)
    if settings.app.host not in LOOPBACK_HOSTS and not settings.app.app_password:
        raise ConfigError(f"refusing to listen on {settings.app.host}: beyond loopback anyone on the network could "
                          "use your TikTok accounts. Set APP_PASSWORD in .env (and ALLOWED_HOSTS to the name you "
                          "browse to), or keep --host 127.0.0.1")
    emulator = None
    if settings.tiktok.embedded_emulator:
        from tiktok.emulator.config import EmulatorConfig
        from tiktok.emulator.server import start_emulator
        from tiktok.media.publishing import emulated_public_prefix
        port = settings.tiktok.emulator_port
        # The app publishes photos at its own /published/; the emulator is told that prefix is verified, as a person
        # verifies theirs with TikTok (README, "Media TikTok pulls"), so photo posts work from the first run.
        own = emulated_public_prefix(settings)
        # TIKTOK_APP_MODE's mode, so the app can be tried as a sandbox or unaudited app (issue 25); unset: audited
        config = EmulatorConfig(verified_url_prefixes=[own] if own else [],
                                mode=settings.tiktok.app_mode or "audited")
        emulator = _start_emulator(start_emulator, config, port)
        # the app talks to the emulator it started, whatever an address file of another app says (config.py)
        settings = _talking_to(settings, emulator.url)
        log.warning("EMULATED MODE: no TIKTOK_CLIENT_KEY is set, so this app talks to the local TikTok emulator "
                    "at %s. Nothing reaches TikTok.", emulator.url)
        _record_emulator(settings, emulator.url, log)
    try:
        return _serve_app(settings, trusted_proxy, log)
    finally:
        if emulator is not None:
            _forget_emulator(settings)
            emulator.shutdown()


def _start_emulator(start_emulator, config, port: int):
    """The embedded emulator on 127.0.0.1:``port``; a port in use (or any failure to listen) is a ConfigError naming
    --emulator-port. Werkzeug prints its own lines and exits 1 for a port in use: those lines are kept back."""
    import contextlib
    import io

    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return start_emulator(config, host="127.0.0.1", port=port)
    except (OSError, SystemExit) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else (said.getvalue().splitlines() or ["cannot listen"])[0]
        raise ConfigError(f"cannot start the TikTok emulator on 127.0.0.1:{port} ({reason}): pick a free port "
                          "with --emulator-port, or TIKTOK_EMULATOR_PORT in .env") from None


def _talking_to(settings: Settings, url: str) -> Settings:
    """``settings`` with the emulator at ``url`` as the API (and the authorize page, unless TIKTOK_AUTH_URL names
    another)."""
    from dataclasses import replace

    section = settings.tiktok
    if section.api_base == url:
        return settings
    derived = section.auth_url == section.api_base + "/v2/auth/authorize/"
    return replace(settings, tiktok=replace(section, api_base=url,
                                            auth_url=url + "/v2/auth/authorize/" if derived else section.auth_url))


def _record_emulator(settings: Settings, url: str, log) -> None:
    """Write where the emulator listens beside the token file (0600, atomically), so every command run in this
    folder finds it (:func:`tiktok.config.running_emulator`); a folder that cannot take it only costs a warning."""
    import json
    import os

    from tiktok.atomic import atomic_write
    from tiktok.config import emulator_address_file

    path = emulator_address_file(settings.store.tokens_path)
    try:
        atomic_write(path, json.dumps({"url": url, "pid": os.getpid()}) + "\n")
    except OSError as exc:
        log.warning("cannot write %s (%s): commands run here look for the emulator on TIKTOK_EMULATOR_PORT",
                    path, exc.strerror)


def _forget_emulator(settings: Settings) -> None:
    """Remove the address file on a clean stop, if it is still this app's (another app may have written since)."""
    import json
    import os

    from tiktok.config import emulator_address_file

    path = emulator_address_file(settings.store.tokens_path)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _serve_app(settings: Settings, trusted_proxy: str | None, log) -> int:
    from tiktok.store.base import token_store_where
    from tiktok.web.app import create_app

    app = create_app(settings=settings)
    host, port = settings.app.host, settings.app.port
    where = token_store_where(settings, app.extensions["tiktok_services"].store)
    posts = where if settings.store.database_url else settings.store.store_path.resolve()
    try:
        server = build_server(app, settings, trusted_proxy=trusted_proxy)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): pick a free port with --port, or PORT "
                          "in .env") from None
    log.info("open http://%s:%d/ (accounts in %s, posts in %s)", "127.0.0.1" if host in ("0.0.0.0", "::")
             else host, port, where, posts)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        finish_refreshes()
    return 0


def build_server(app, settings, *, trusted_proxy: str | None = None):
    """The waitress server ``python app.py`` runs, bound and ready for ``run()``."""
    import logging

    from waitress import create_server  # a production WSGI server, loaded only to serve

    open_files = raise_open_file_limit(CONNECTION_LIMIT + SPARE_FILES)
    connections = max(THREADS, min(CONNECTION_LIMIT, open_files - SPARE_FILES))
    if connections < CONNECTION_LIMIT:
        logging.getLogger("tiktok.app").warning(
            "this process may open only %d files, so the app takes at most %d connections at once; raise the "
            "limit (ulimit -n %d) to take %d", open_files, connections, CONNECTION_LIMIT + SPARE_FILES,
            CONNECTION_LIMIT)
    proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
             "trusted_proxy_headers": {"x-forwarded-for"}} if trusted_proxy else {
        # kept, never trusted for an address: their presence tells tiktok.web.people a proxy forwarded the request
        "clear_untrusted_proxy_headers": False}
    body_bytes = max_body_bytes()
    listeners: dict = {}
    server = create_server(AccessLog(app), listeners, host=settings.app.host, port=settings.app.port,
                           threads=THREADS, max_request_body_size=body_bytes, recv_bytes=RECV_BYTES,
                           # a chunked body is refused only once past the limit, up to one read later
                           inbuf_overflow=body_bytes + RECV_BYTES,
                           outbuf_high_watermark=UNSENT_ANSWER_BYTES, outbuf_overflow=sys.maxsize,
                           connection_limit=connections, channel_timeout=CHANNEL_TIMEOUT_S,
                           cleanup_interval=CLEANUP_INTERVAL_S,
                           asyncore_use_poll=True,  # select() cannot watch sockets numbered past 1023
                           **proxy)
    from waitress.server import BaseWSGIServer

    channel = refusing_channel(getattr(app, "extensions", {}).get("tiktok_uploads"))
    for listener in listeners.values():  # one per address listened on (and waitress's trigger)
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = channel
    # applied to each connection as it is accepted (the listeners share one Adjustments)
    server.adj.socket_options = [*server.adj.socket_options,
                                 (socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)]
    return server


def refusing_channel(uploads=None):
    """Waitress's connection class, with two changes to how it reads a request.

    A request refused from its headers (a body over the limit) is answered at once. Waitress sends such a request's
    client "100 Continue" all the same, reads a body's worth, then answers 413 and closes, and the client, still
    sending, often sees the connection reset instead of the answer. Without the 100, a client that asked (curl, for
    bodies over 1 MiB) sends no byte of the body.

    An upload slice goes straight into its part file. Once a ``PUT``'s headers are read, ``uploads``
    (tiktok.web.uploads.Uploads) says whether its body is a slice it expects: the upload in progress, the slice's
    length to the byte (a Content-Length, never chunked) and the token of the browser that started the upload. If
    so, each block read from the socket is written at the slice's place in waitress's I/O thread (a write to the
    page cache, as fast as the read) and let go, and the request reaches the app, once the body is whole, with an
    empty body and the server's record of what it wrote. Any other body, on any route, stays under the limit on
    bodies held in memory (:func:`max_body_bytes`); a slice refused for it gets the page's JSON. A connection cut off
    mid-slice never reaches the app: the slice is not counted, and the page sends it again."""
    import json

    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser
    from waitress.utilities import RequestEntityTooLarge

    from tiktok.web.uploads import SLICE_REFUSED, Landed, slice_address

    class SliceRefused(RequestEntityTooLarge):
        """A slice the app does not expect, too big to hold: 413 from its headers, in the JSON compose.js reads."""

        def to_response(self, ident=None):
            body = json.dumps({"error": SLICE_REFUSED}).encode()
            return f"{self.code} {self.reason}", [("Content-Type", "application/json")], body

    class SliceReceiver:
        """Waitress's body receiver (the shape of its FixedStreamReceiver) for a slice written as it arrives."""

        error = None

        def __init__(self, landing) -> None:
            self.landing = landing

        @property
        def completed(self) -> bool:
            return self.landing.complete

        def __len__(self) -> int:
            return self.landing.taken

        def received(self, data: bytes) -> int:
            return self.landing.take(data)

        def getfile(self):
            return Landed(self.landing)  # the app's wsgi.input

        def getbuf(self):
            return self  # closed with the request: nothing to free

        def close(self) -> None:
            pass

    class RefusingParser(HTTPRequestParser):
        to_a_slice = False  # a PUT to a slice's address whose body the server holds, if it is small enough

        def parse_header(self, header_plus):
            super().parse_header(header_plus)
            if uploads is None or self.command != "PUT" or slice_address(self.path) is None:
                return
            landing = None if self.chunked or self.content_length <= 0 else uploads.direct_target(
                self.path, self.content_length, self.headers.get("X_CSRF_TOKEN", ""))
            if landing is None:
                self.to_a_slice = True
                return
            self.body_rcv = SliceReceiver(landing)
            # No body is held, so the limit on bodies held does not apply; the app reads an empty body.
            self.content_length = 0
            self.headers["CONTENT_LENGTH"] = "0"

        def received(self, data):
            if isinstance(self.body_rcv, SliceReceiver) and not self.completed:
                consumed = self.body_rcv.received(data)
                self.body_bytes_received += consumed
                self.completed = self.body_rcv.completed
                return consumed
            consumed = super().received(data)
            if self.error is not None:
                self.expect_continue = False  # the channel asks right after this call whether to send the 100
                if self.to_a_slice and type(self.error) is RequestEntityTooLarge:
                    self.error = SliceRefused(self.error.body)
            return consumed

    class RefusingChannel(HTTPChannel):
        parser_class = RefusingParser

    return RefusingChannel


def max_body_bytes() -> int:
    """Waitress's limit on request bodies held in memory, on every route (it refuses a body this long or longer):
    a megabyte and a little slack. An upload slice the app expects does not count (:func:`refusing_channel`)."""
    return SMALL_BODY_BYTES + BODY_SLACK_BYTES


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files to ``wanted`` (at most its hard limit); the limit now."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # macOS caps it below an "unlimited" hard limit; keep what we have
        return soft
    return target


def finish_refreshes() -> None:
    """Let a token refresh a request thread is doing end and be written before the process ends (request threads
    are daemons: without this, Ctrl-C or SIGTERM during "Refresh all tokens now" could lose an account)."""
    import logging

    from tiktok.auth.access import HOLD_BOUND_S
    from tiktok.signals import wait_for_holds

    if not wait_for_holds(0):
        log = logging.getLogger("tiktok.app")
        log.warning("waiting for a token refresh to be saved before stopping (at most %.0f s)", HOLD_BOUND_S)
        if not wait_for_holds(HOLD_BOUND_S):
            log.warning("a token refresh did not finish in time; its account may need to be linked again")


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server like Ctrl-C: the emulator is shut down, exit 0


class AccessLog:
    """One log line per request (waitress writes none), but none for a success its view marked quiet
    (:data:`tiktok.web.uploads.QUIET`: an upload's slices, a thousand lines a gigabyte and a tenth of the app's time;
    the upload's start, end and every refusal are logged); the root handlers mask code, state and tokens."""

    def __init__(self, app) -> None:
        import logging

        from tiktok.logs import install_redaction
        from tiktok.web.uploads import QUIET

        self.app, self.quiet = app, QUIET
        self.log = logging.getLogger("tiktok.web.access")
        install_redaction("tiktok.web.access")

    def __call__(self, environ, start_response):
        def logging_start_response(status, headers, exc_info=None):
            if environ.get(self.quiet) and status.startswith("2"):
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
            query = environ.get("QUERY_STRING", "")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            self.log.info('"%s %s" %s', environ.get("REQUEST_METHOD", ""), path, status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        return self.app(environ, logging_start_response)
