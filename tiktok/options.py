"""Command-line pieces every command shares: a command's parser from its docstring, options that stand for a
setting, ``-v``, and argparse types for numbers, durations and ports.

It imports nothing but argparse, so a command's ``--help`` stays quick.
"""

from __future__ import annotations

import argparse
import math


def command_parser(subparsers, name: str, doc: str, *, parents=(), epilog: str | None = None,
                   **kwargs) -> argparse.ArgumentParser:
    """The parser of command ``name``; ``doc``, the command module's docstring, is its help: the first line in the
    list of commands, the rest (or the first line) as the description above the options."""
    summary, _, rest = doc.strip().partition("\n")
    return subparsers.add_parser(name, help=summary, description=rest.strip() or summary, epilog=epilog,
                                 parents=list(parents), formatter_class=argparse.RawDescriptionHelpFormatter,
                                 **kwargs)


def setting(parser, *flags: str, env: str, **kwargs) -> argparse.Action:
    """An option that stands for the setting ``env``, declared once, here: given, it replaces that setting for this
    run and is checked like it (:mod:`tiktok.config`); not given, ``.env`` and the environment decide."""
    action = parser.add_argument(*flags, default=None, **kwargs)
    action.env = env  # type: ignore[attr-defined]  # read back by given_settings
    return action


def given_settings(parser: argparse.ArgumentParser, opts: argparse.Namespace) -> dict[str, str]:
    """The settings that the options given on this command line stand for, as environment values."""
    return {action.env: str(getattr(opts, action.dest))  # type: ignore[attr-defined]
            for action in parser._actions  # argparse lists a parser's options nowhere public
            if getattr(action, "env", None) and getattr(opts, action.dest, None) is not None}


def verbosity_options() -> argparse.ArgumentParser:
    """An argparse parent with ``-v/--verbose``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", help="log HTTP-level detail to stderr")
    return parent


def _number(text: str, cast: type, what: str):
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be more than 0")
    return value


def tcp_port(text: str) -> int:
    value = _number(text, int, "a whole number")
    if not 0 < value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1-65535)")
    return value


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h`` or ``1d``; ValueError with the reason otherwise. Pure."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in DURATION_UNITS else "s"
    number = raw[:-1] if raw[-1:] in DURATION_UNITS else raw
    try:
        value = float(number) * DURATION_UNITS[unit]
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan", "inf", "1e400"
        raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 2h or 1d")
    if value < 0:
        raise ValueError(f"{text!r} must be 0 or more")
    return value


def duration(text: str) -> float:
    """argparse type for :func:`parse_duration`."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def int_between(low: int, high: int, unit: str = ""):
    """An argparse type for a whole number from ``low`` to ``high`` inclusive (``unit`` names it in the error)."""
    def parse(text: str) -> int:
        value = _number(text, int, "a whole number")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:,} is outside {low:,}-{high:,}{' ' + unit if unit else ''}")
        return value
    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse
