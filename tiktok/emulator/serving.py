"""Serve a WSGI app on a loopback port in a background thread.

One piece serves the TikTok emulator and the AssemblyAI stand-in: for tests, for ``python -m tiktok.emulator``
and for the app's no-credentials mode, so every client talks real HTTP over 127.0.0.1.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.urls import uri_to_iri

# escaped in a request line, as werkzeug escapes them: a decoded path can hold any character
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class RunningServer:
    """A server running in a daemon thread; ``url`` has no trailing slash."""

    server: BaseWSGIServer
    thread: threading.Thread = field(repr=False)

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _PlainRequestHandler(WSGIRequestHandler):
    """werkzeug's request line (``"GET /v2/user/info/ HTTP/1.1" 200 -``, to the ``werkzeug`` logger at INFO) without
    the ANSI colour codes werkzeug wraps around every status but 200: the lines go to logs, pipes and files (where a
    colour code is noise), and the app's log escapes every control character (:func:`tiktok.logs.inert`), so a
    colour would show as ``\\x1b[33m`` text even on a terminal."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            line = f"{self.command} {uri_to_iri(self.path)} {self.request_version}"
        except AttributeError:  # a request line too broken to parse
            line = self.requestline
        self.log("info", '"%s" %s %s', _CONTROLS.sub(lambda c: f"\\x{ord(c.group()):02x}", line), code, size)


class _SilentRequestHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no access-log line per request
        pass


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = True) -> RunningServer:
    """Start ``app`` on ``host:port`` (port 0 picks a free one) and return once it accepts connections.

    Each request is a line on the ``werkzeug`` logger at INFO, never coloured (the app shows those of its embedded
    emulator only with ``-v``: :func:`tiktok.logs.show_request_lines`); ``log_requests=False`` writes none (errors
    are still logged)."""
    handler = _PlainRequestHandler if log_requests else _SilentRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},  # quick shutdown
                              name=f"wsgi-{server.port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread)
