"""run the local web app, like app.py

The local web app: log in with TikTok, tokens, posting, transcripts and stats.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser, setting, tcp_port

OWN_SIGNALS = True  # Ctrl-C and SIGTERM stop the server (exit 0) once a token refresh under way is saved

EPILOG = """With no TIKTOK_CLIENT_KEY in .env or the environment, the app starts the local TikTok emulator on
--emulator-port and labels every page "emulated": nothing reaches TikTok. While it runs, .tiktok-emulator.json
beside the token file says where that emulator listens, and every command run in this folder talks to it. Options
override HOST, PORT and TIKTOK_EMULATOR_PORT from .env. The log says what changed (a post made or failed, a
manifest's new problem), not each idle round; -v adds debug detail and the emulator's line per request. Exit codes:
0 stopped normally; 2 bad option or configuration, or a port in use (the line names the option to change)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "app", __doc__, parents=parents, epilog=EPILOG)
    setting(parser, "--host", env="HOST", metavar="HOST",
            help="address to listen on (default $HOST or 127.0.0.1; anything beyond loopback needs APP_PASSWORD)")
    setting(parser, "--port", env="PORT", type=tcp_port, metavar="PORT",
            help="port to listen on (default $PORT or 8000)")
    setting(parser, "--emulator-port", env="TIKTOK_EMULATOR_PORT", type=tcp_port, metavar="PORT",
            help="port of the embedded TikTok emulator (default $TIKTOK_EMULATOR_PORT or 8001; ignored when a "
                 "TikTok app is configured)")
    parser.add_argument("--trusted-proxy", metavar="ADDRESS",
                        help="the address your reverse proxy connects from (e.g. 127.0.0.1): its X-Forwarded-For "
                             "then names each client, so sign-in limits count people, not the proxy")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import logging

    from tiktok.logs import show_request_lines
    from tiktok.web.run import serve

    logging.getLogger().setLevel(logging.DEBUG if opts.verbose else logging.INFO)  # the start-up and request lines
    show_request_lines(opts.verbose)  # the embedded emulator's line per request: only with -v
    return serve(ctx.settings, trusted_proxy=opts.trusted_proxy)
