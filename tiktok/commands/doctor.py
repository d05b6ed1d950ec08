"""check the whole set-up: credentials, redirect URI, scopes, app mode, accounts, files, emulator, media addresses

One line per check: a verdict (ok, problem or note), a plain sentence and, for a problem, the fix. It checks the
app's client key and secret (never shown) or notes emulated mode; TIKTOK_REDIRECT_URI against TikTok's rules byte
for byte and against where the app serves its callback; the scopes each linked account granted against what each
feature needs; the TikTok app's mode in force (TIKTOK_APP_MODE, or as TikTok's answers showed it) and, for an
unaudited app, that each account is private (creator_info: unaudited apps may Direct Post only to private
accounts); accounts that must be linked again or whose refresh token runs out within 30 days; that the token
file and the SQLite store are readable by their owner only; MEDIA_PUBLIC_URL and VERIFIED_URL_PREFIXES reachable;
in emulated mode, the emulator at the address the settings give. It changes nothing. (Not the media doctor:
python -m tiktok media fix repairs video files.)
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes: 0 no problem (notes do not count); 1 a check found a problem (each names its fix); 2 bad
configuration (a setting that cannot be read, as every command) or a token store that cannot be read."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "doctor", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("--json", action="store_true",
                        help='print {"exit": N, "checks": [{"check", "verdict", "sentence", "fix"}, ...]} on stdout')
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import json

    from tiktok.logs import echo
    from tiktok.setup_checks import exit_status

    checks = gather(ctx)
    status = exit_status(checks)
    if opts.json:
        print(json.dumps({"exit": status, "checks": [check.to_json() for check in checks]}, indent=2), flush=True)
    else:
        for check in checks:
            echo(ctx.prefix + check.line())
    return status


def gather(ctx: Context) -> list:
    """Every check (tiktok.setup_checks.gather), with the accounts, the app's mode in force and, for an unaudited
    app, each account's creator_info (one call each through the posting client; a note when TikTok cannot be
    reached)."""
    from tiktok import setup_checks as sc
    from tiktok.errors import StoreError
    from tiktok.posting.budget import usage as budget_usage
    from tiktok.posting.policy import app_mode
    from tiktok.services import http_session
    from tiktok.store.base import open_store, open_token_store

    settings = ctx.settings
    session = http_session()
    tokens = open_token_store(settings, clock=ctx.clock)
    accounts, now = tokens.load(), ctx.clock()
    detected = usage = None
    if settings.store.database_url or settings.store_path.exists():  # the doctor never creates the store
        try:
            posts = open_store(settings, migrate=False)
            try:
                detected = posts.detected_app_mode()
                usage = budget_usage(posts, accounts, now, app_mode_setting=settings.tiktok.app_mode)
            finally:
                posts.close()
        except StoreError:
            detected = usage = None  # the mode then shows as unknown, with how to set it; no caps counted
    return sc.gather(settings, accounts=accounts, now=now, session=session,
                     mode=app_mode(settings.tiktok.app_mode, detected),
                     creator_options=creator_options(settings, tokens, session), usage=usage)


def creator_options(settings, tokens, session):
    """``open_id -> (privacy_level_options, None) or (None, why)``: creator_info through the posting client, with
    a fresh token (tiktok.auth.access.call_with_token); the services are built on the first call only."""
    built = []

    def ask(open_id: str):
        from tiktok.auth.access import call_with_token
        from tiktok.errors import TikTokError
        from tiktok.posting.client import PostingClient
        from tiktok.services import build_services
        from tiktok.words import said

        if not built:
            built.append(build_services(settings, store=tokens, session=session))
        services = built[0]
        try:
            info = call_with_token(tokens, services.oauth, open_id, PostingClient(services.api).creator_info)
        except TikTokError as exc:
            where = "the emulator" if settings.tiktok.emulated else "TikTok"
            if exc.transient:
                return None, f"{where} could not be reached ({exc})"
            return None, f"creator_info gave no answer ({said(exc)})"
        return info.privacy_options, None
    return ask
