"""The one command tree: ``python -m tiktok COMMAND``, and the entry scripts that run one command each.

    python -m tiktok --help          every command, one line each (tiktok/commands/, one module per command)
    upload_to_tiktok.py ...          the same as python -m tiktok post ...
    transcribe.py ...                the same as python -m tiktok transcribe ...
    app.py ...                       the same as python -m tiktok app ...

Installed (``pip install .``), the same are the console commands ``tiktok``, ``tiktok-post``, ``tiktok-transcribe``
and ``tiktok-app`` (pyproject.toml's ``[project.scripts]``: the four functions at the end).

Every command runs through :func:`run_command`: a typed error (:mod:`tiktok.errors`) becomes one line naming what
to fix and its exit code (:func:`tiktok.exitcodes.status_for`), whatever the command. Ctrl-C and SIGTERM end a
command with a line and 130 / 143, never a traceback, except for the commands that stop their own way.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from collections.abc import Sequence
from types import ModuleType

from tiktok.commands import (Context, accounts, alerts, app, db, doctor, import_, media, post, queue, refresh,
                             report, slots, status, tokens, transcribe, worker, workers)
from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import given_settings, verbosity_options

PROG = "python -m tiktok"
COMMANDS: dict[str, ModuleType] = {
    "refresh": refresh, "post": post, "accounts": accounts, "report": report, "transcribe": transcribe,
    "tokens": tokens, "db": db, "worker": worker, "queue": queue, "app": app, "media": media,
    "workers": workers, "status": status, "alerts": alerts, "doctor": doctor, "import": import_,
    "slots": slots,
}

EPILOG = """exit codes (every command): 0 all fine; 1 something failed that running again will not fix by
itself; 2 bad arguments, configuration or input; 3 an account must be linked again in the app; 4 a temporary
failure (network, TikTok, the database): the next run may succeed.
""" + PRECEDENCE_HELP + """ 130 stopped by Ctrl-C, 143 by SIGTERM.
%(prog)s COMMAND --help tells more."""


class _Alone:
    """Stands in for the tree's subparsers when a script runs one command: that command's parser is the whole
    parser, under the script's name."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        kwargs.pop("help", None)  # the one-line help belongs in a list of commands
        return argparse.ArgumentParser(prog=self.prog, **kwargs)


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The tree: the root parser and each command's parser by name."""
    parser = argparse.ArgumentParser(prog=prog, description="TikTok account tools: post, refresh, report, "
                                     "transcribe, and the web app.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [verbosity_options()]
    return parser, {name: module.add_parser(subparsers, common) for name, module in COMMANDS.items()}


def command_parser(name: str, prog: str) -> argparse.ArgumentParser:
    """One command's parser on its own, as the script ``prog`` runs it."""
    return COMMANDS[name].add_parser(_Alone(prog), [verbosity_options()])


def main(argv: Sequence[str] | None = None, *, command: str | None = None, prog: str | None = None,
         context: Context | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments) and run the command; the exit status.

    ``command`` runs that one command (an entry script: ``prog`` is the script's name); otherwise the first
    argument names it. ``context`` carries injected settings, clock and sleep (tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is None:
        parser, parsers = build_parser(prog or PROG)
        opts = parser.parse_args(argv)
        chosen = parsers[opts.command]
    else:
        chosen = command_parser(command, prog or f"{PROG} {command}")
        opts = chosen.parse_args(argv)
        opts.command = command
    ctx = context or Context()
    ctx.overrides.update(given_settings(chosen, opts))
    module = COMMANDS[opts.command]

    import logging

    from tiktok.logs import configure_logging, echo  # after parsing: --help and bad arguments stay instant
    from tiktok.signals import Interrupted, stop_on_signals

    configure_logging(logging.DEBUG if opts.verbose else logging.WARNING)
    with nullcontext() if getattr(module, "OWN_SIGNALS", False) else stop_on_signals():
        try:
            return run_command(module, opts, ctx)
        except Interrupted as stop:
            echo(f"interrupted by {stop.name}: stopped before it finished (exit {stop.exit_code})", file=sys.stderr)
            return stop.exit_code


def run_command(module: ModuleType, opts: argparse.Namespace, ctx: Context) -> int:
    """``module.run(opts, ctx)``; a typed error it raises becomes one line and the exit code it stands for."""
    from tiktok.errors import TikTokError
    from tiktok.exitcodes import status_for
    from tiktok.logs import echo

    try:
        return int(module.run(opts, ctx))
    except TikTokError as exc:
        # our own messages may span lines; what they quote from files or TikTok is made inert by echo
        echo(f"{ctx.prefix}error: {exc}", file=ctx.errors or sys.stderr, newlines=True)
        return status_for(exc)


def tiktok_script() -> int:
    """``tiktok``: the same as ``python -m tiktok``."""
    return main(prog="tiktok")


def post_script() -> int:
    """``tiktok-post``: the same as ``python -m tiktok post`` and ``upload_to_tiktok.py``."""
    return main(command="post", prog="tiktok-post")


def transcribe_script() -> int:
    """``tiktok-transcribe``: the same as ``python -m tiktok transcribe`` and ``transcribe.py``."""
    return main(command="transcribe", prog="tiktok-transcribe")


def app_script() -> int:
    """``tiktok-app``: the same as ``python -m tiktok app`` and ``app.py``."""
    return main(command="app", prog="tiktok-app")
