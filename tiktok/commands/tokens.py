"""encrypt, decrypt or re-key the token file in place

Migrate the token file (TOKENS_FILE) in place, under its lock, with one atomic write. Only the access and refresh
tokens are encrypted (Fernet: authenticated encryption); account names and deadlines stay readable. Keys are read
from the environment or .env, never from the command line (a command line is visible to every user of the machine).
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """keys: TOKENS_KEY is the key the file is (or will be) encrypted with; TOKENS_NEW_KEY, for rotate-key
only, is the key to encrypt it with from now on. Make a key with
  .venv/bin/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
After rotate-key, put the new key in TOKENS_KEY (and remove TOKENS_NEW_KEY) before anything else reads the file.
Every other command (refresh, accounts, report, the app) reads an encrypted file with TOKENS_KEY.

exit codes: 0 done (or nothing to do); 2 a key is missing or wrong, or the token file is unusable; the file is then
left unchanged."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "tokens", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("action", choices=("encrypt", "decrypt", "rotate-key"),
                        help="encrypt: write it encrypted with TOKENS_KEY; decrypt: open it with TOKENS_KEY and "
                             "write it plain; rotate-key: open it with TOKENS_KEY (the old key) and write it with "
                             "TOKENS_NEW_KEY")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """One outcome line, the file named, never a key or token."""
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import DONE, SKIPPED, ExitStatus, outcome_line

    store, keys = ctx.services.store, ctx.settings.store
    where = str(store.path)
    before = store.encryption()  # opens the file with TOKENS_KEY: a wrong or missing key stops here
    if not keys.tokens_key:
        raise ConfigError(f"{where}: tokens {opts.action} needs TOKENS_KEY (in .env or the environment)"
                          + ("" if opts.action != "rotate-key" else ": the key the file is encrypted with now"))
    if opts.action == "encrypt":
        if before is not None:
            print(outcome_line(SKIPPED, where, "already encrypted with TOKENS_KEY"))
            return ExitStatus.OK
        changed = store.migrate(keys.tokens_key)
        detail = "access and refresh tokens are now encrypted with TOKENS_KEY"
    elif opts.action == "decrypt":
        changed = store.migrate(None)
        detail = "written plain: the tokens are readable by anyone who can read the file; unset TOKENS_KEY"
    else:
        if not keys.tokens_new_key:
            raise ConfigError("tokens rotate-key needs TOKENS_NEW_KEY (in .env or the environment): the key to "
                              "encrypt the file with from now on")
        if keys.tokens_new_key == keys.tokens_key:
            raise ConfigError("TOKENS_NEW_KEY is the same key as TOKENS_KEY")
        changed = store.migrate(keys.tokens_new_key)
        detail = "re-encrypted with TOKENS_NEW_KEY: put that key in TOKENS_KEY now and remove TOKENS_NEW_KEY"
    if not changed:
        empty = not store.load() if keys.database_url else not store.target.exists()
        print(outcome_line(SKIPPED, where, "no tokens stored yet" if empty else "already plain"))
        return ExitStatus.OK
    print(outcome_line(DONE, where, detail))
    return ExitStatus.OK
