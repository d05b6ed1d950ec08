"""check the whole set-up: credentials, redirect URI, scopes, accounts, file permissions, emulator, media addresses

One line per check: a verdict (ok, problem or note), a plain sentence and, for a problem, the fix. It checks the
app's client key and secret (never shown) or notes emulated mode; TIKTOK_REDIRECT_URI against TikTok's rules byte
for byte and against where the app serves its callback; the scopes each linked account granted against what each
feature needs; accounts that must be linked again or whose refresh token runs out within 30 days; that the token
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
    """Every check, in the order a person fixes them: the app, the accounts, the files, the addresses."""
    from tiktok import setup_checks as sc
    from tiktok.services import http_session
    from tiktok.store.base import open_token_store

    settings = ctx.settings
    session = http_session()
    checks = [sc.credentials(settings), sc.redirect_uri(settings), sc.scopes_asked(settings)]
    if settings.tiktok.emulated:
        checks.append(sc.emulator(settings, sc.emulator_probe(settings.tiktok.api_base, session)))
    accounts = open_token_store(settings, clock=ctx.clock).load()
    now = ctx.clock()
    for account in sorted(accounts.values(), key=lambda a: (sc.account_name(a), a.open_id)):
        if account.emulated != settings.tiktok.emulated:
            checks.append(sc.elsewhere(account))
            continue
        checks += [sc.account_scopes(account, settings), sc.account_grant(account, now)]
    if not accounts:
        checks.append(sc.Check("accounts", sc.NOTE, "No account is linked yet: open the app and use Login with "
                               "TikTok."))
    if settings.store.database_url:
        checks.append(sc.Check("files", sc.NOTE, "Accounts and posts are kept in the database (DATABASE_URL): no "
                               "token file or SQLite store to check."))
    else:
        for name, what, path in (("token_file", "token file", settings.tokens_path),
                                 ("store_file", "SQLite store", settings.store_path)):
            checks.append(sc.file_mode(name, what, path.absolute(), sc.mode_of(path)))
    media = settings.media
    if media.public_url:
        checks.append(sc.media_address("media_public_url", "MEDIA_PUBLIC_URL", sc.probe(media.public_url, session)))
    for prefix in media.verified_prefixes:
        checks.append(sc.media_address(f"verified:{prefix}", "VERIFIED_URL_PREFIXES",
                                       sc.probe(sc.prefix_url(prefix), session)))
    if not media.public_url and not media.verified_prefixes:
        checks.append(sc.Check("media", sc.NOTE, "MEDIA_PUBLIC_URL and VERIFIED_URL_PREFIXES are not set: videos "
                               "are sent from this machine, and no address of yours has to be reachable."))
    return checks
