"""Serving the app (:func:`serve`): the emulator beside it when no TikTok app is configured, waitress in front.

``python app.py`` and ``python -m tiktok app`` (tiktok/commands/app.py) parse their options before anything heavy
loads, then call :func:`serve` with the settings.
"""

from __future__ import annotations

import signal

from tiktok.config import LOOPBACK_HOSTS, Settings
from tiktok.errors import ConfigError

UPLOAD_SLACK_BYTES = 1024 * 1024  # over TikTok's 4 GB, so the composer (not waitress) answers a file just too big
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
        from tiktok.emulator.server import start_emulator
        port = settings.tiktok.emulator_port
        try:
            emulator = start_emulator(host="127.0.0.1", port=port)
        except OSError as exc:
            raise ConfigError(f"cannot start the TikTok emulator on 127.0.0.1:{port} ({exc}); pick a free port with "
                              "--emulator-port or TIKTOK_EMULATOR_PORT") from None
        log.warning("EMULATED MODE: no TIKTOK_CLIENT_KEY is set, so this app talks to the local TikTok emulator "
                    "at %s. Nothing reaches TikTok.", emulator.url)
    try:
        return _serve_app(settings, trusted_proxy, log)
    finally:
        if emulator is not None:
            emulator.shutdown()


def _serve_app(settings: Settings, trusted_proxy: str | None, log) -> int:
    from tiktok.store.base import token_store_where
    from tiktok.web.app import create_app

    app = create_app(settings=settings)
    host, port = settings.app.host, settings.app.port
    where = token_store_where(settings, app.extensions["tiktok_services"].store)
    posts = where if settings.store.database_url else settings.store.store_path.resolve()
    log.info("open http://%s:%d/ (accounts in %s, posts in %s)", "127.0.0.1" if host in ("0.0.0.0", "::")
             else host, port, where, posts)
    try:
        server = build_server(app, settings, trusted_proxy=trusted_proxy)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc}); pick a free port with --port") from None
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

    from tiktok.posting.limits import MAX_VIDEO_BYTES
    open_files = raise_open_file_limit(CONNECTION_LIMIT + SPARE_FILES)
    connections = max(THREADS, min(CONNECTION_LIMIT, open_files - SPARE_FILES))
    if connections < CONNECTION_LIMIT:
        logging.getLogger("tiktok.app").warning(
            "this process may open only %d files, so the app takes at most %d connections at once; raise the "
            "limit (ulimit -n %d) to take %d", open_files, connections, CONNECTION_LIMIT + SPARE_FILES,
            CONNECTION_LIMIT)
    proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
             "trusted_proxy_headers": {"x-forwarded-for"}} if trusted_proxy else {}
    # waitress refuses bodies over 1 GB by default; the composer's uploads may be as big as TikTok takes.
    return create_server(AccessLog(app), host=settings.app.host, port=settings.app.port, threads=THREADS,
                         max_request_body_size=MAX_VIDEO_BYTES + UPLOAD_SLACK_BYTES,
                         connection_limit=connections, channel_timeout=CHANNEL_TIMEOUT_S,
                         cleanup_interval=CLEANUP_INTERVAL_S,
                         asyncore_use_poll=True,  # select() cannot watch sockets numbered past 1023
                         **proxy)


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
    """One log line per request (waitress writes none); the root handlers mask code, state and tokens."""

    def __init__(self, app) -> None:
        import logging

        from tiktok.logs import install_redaction

        self.app = app
        self.log = logging.getLogger("tiktok.web.access")
        install_redaction("tiktok.web.access")

    def __call__(self, environ, start_response):
        def logging_start_response(status, headers, exc_info=None):
            query = environ.get("QUERY_STRING", "")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            self.log.info('"%s %s" %s', environ.get("REQUEST_METHOD", ""), path, status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        return self.app(environ, logging_start_response)
