"""``python app.py``: start the app, and the emulator beside it when no TikTok app is configured.

The options are parsed before anything heavy loads, so ``--help`` and a bad option answer at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from tiktok.config import DEFAULT_EMULATOR_PORT, DEFAULT_HOST, DEFAULT_PORT
from tiktok.options import tcp_port

UPLOAD_SLACK_BYTES = 1024 * 1024  # over TikTok's 4 GB, so the composer (not waitress) answers a file just too big
THREADS = 8
# Waitress reads requests in one event loop and hands only complete ones to THREADS, so idle or slow sockets cost
# a connection each, not a thread: the connection limit is what they can use up. Its default (100) let 98 idle
# sockets, kept open by a byte every few seconds, shut everyone else out (issue 19).
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 30  # a connection silent this long is closed (waitress: 120)
CLEANUP_INTERVAL_S = 5  # how often silent connections are looked for (waitress: 30)
SPARE_FILES = 128  # open files besides connections: token and post stores, logs, uploads' temporary files

EPILOG = """With no TIKTOK_CLIENT_KEY in .env or the environment, the app starts the local TikTok emulator on
--emulator-port and labels every page "emulated": nothing reaches TikTok. Options override HOST, PORT and
TIKTOK_EMULATOR_PORT from .env. Exit codes: 0 stopped normally; 2 bad option or configuration, or a port in use."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", epilog=EPILOG,
                                     description="The local web app: log in with TikTok, tokens, posting, "
                                                 "transcripts and stats.")
    parser.add_argument("--host", metavar="HOST",
                        help=f"address to listen on (default $HOST or {DEFAULT_HOST}; anything beyond loopback needs "
                             "APP_PASSWORD)")
    parser.add_argument("--port", type=tcp_port, metavar="PORT",
                        help=f"port to listen on (default $PORT or {DEFAULT_PORT})")
    parser.add_argument("--emulator-port", type=tcp_port, metavar="PORT",
                        help=f"port of the embedded TikTok emulator (default $TIKTOK_EMULATOR_PORT or "
                             f"{DEFAULT_EMULATOR_PORT}; ignored when a TikTok app is configured)")
    parser.add_argument("--trusted-proxy", metavar="ADDRESS",
                        help="the address your reverse proxy connects from (e.g. 127.0.0.1): its X-Forwarded-For "
                             "then names each client, so sign-in limits count people, not the proxy")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    return parser


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """The environment variables the command-line options stand for."""
    chosen = {"HOST": args.host, "PORT": args.port, "TIKTOK_EMULATOR_PORT": args.emulator_port}
    return {name: str(value) for name, value in chosen.items() if value is not None}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging

    from tiktok.config import load_settings, read_environment
    from tiktok.errors import ConfigError
    from tiktok.logs import configure_logging

    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    log = logging.getLogger("tiktok.app")
    try:
        settings = load_settings({**read_environment(), **overrides(args)})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tiktok.config import LOOPBACK_HOSTS
    from tiktok.web.security import password_problem
    problem = password_problem(settings.app_password)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if settings.host not in LOOPBACK_HOSTS and not settings.app_password:
        print(f"error: refusing to listen on {settings.host}: beyond loopback anyone on the network could use "
              "your TikTok accounts. Set APP_PASSWORD in .env (and ALLOWED_HOSTS to the name you browse to), "
              "or keep --host 127.0.0.1", file=sys.stderr)
        return 2
    emulator = None
    if settings.embedded_emulator:
        from tiktok.emulator.server import start_emulator
        try:
            emulator = start_emulator(host="127.0.0.1", port=settings.emulator_port)
        except OSError as exc:
            print(f"error: cannot start the TikTok emulator on 127.0.0.1:{settings.emulator_port} ({exc}); "
                  "pick a free port with --emulator-port or TIKTOK_EMULATOR_PORT", file=sys.stderr)
            return 2
        log.warning("EMULATED MODE: no TIKTOK_CLIENT_KEY is set, so this app talks to the local TikTok emulator "
                    "at %s. Nothing reaches TikTok.", emulator.url)
    from tiktok.web.app import create_app
    app = create_app(settings=settings)
    from tiktok.store.base import token_store_where
    where = token_store_where(settings, app.extensions["tiktok_services"].store)
    posts = where if settings.database_url else settings.store_path.resolve()
    log.info("open http://%s:%d/ (accounts in %s, posts in %s)", "127.0.0.1" if settings.host in ("0.0.0.0", "::")
             else settings.host, settings.port, where, posts)
    try:
        try:
            server = build_server(app, settings, trusted_proxy=args.trusted_proxy)
        except OSError as exc:
            print(f"error: cannot listen on {settings.host}:{settings.port} ({exc}); pick a free port with --port",
                  file=sys.stderr)
            return 2
        signal.signal(signal.SIGTERM, _stop)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            finish_refreshes()
    finally:
        if emulator is not None:
            emulator.shutdown()
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
    return create_server(AccessLog(app), host=settings.host, port=settings.port, threads=THREADS,
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
