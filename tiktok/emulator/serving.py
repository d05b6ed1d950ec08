"""Serve a WSGI app on a loopback port in a background thread.

One piece serves the TikTok emulator and the AssemblyAI stand-in: for tests, for ``python -m tiktok.emulator``
and for the app's no-credentials mode, so every client talks real HTTP over 127.0.0.1.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


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


class _SilentRequestHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no access-log line per request
        pass


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = True) -> RunningServer:
    """Start ``app`` on ``host:port`` (port 0 picks a free one) and return once it accepts connections.

    ``log_requests=False`` keeps werkzeug's one-line-per-request access log quiet (errors are still logged)."""
    handler = WSGIRequestHandler if log_requests else _SilentRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},  # quick shutdown
                              name=f"wsgi-{server.port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread)
