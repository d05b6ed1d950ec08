"""show or set an account's posting slots, its next free slot, and the calendar feed's address

Posting slots are the times of the week an account posts at, like "Mon-Fri 18:00, Sat 11:00", in the account's
time zone (--zone, else TZ). "slots next" gives the first slot time from now on that no post of the account takes
and whose day is under TikTok's daily cap (15 Direct Posts a day); the composer's "Add to next free slot" uses the
same. "slots feed" manages the read-only calendar (.ics) feed of the schedule: --new makes its secret address (shown
once; the one before stops working), --revoke ends it.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """examples:
  python -m tiktok slots set @studio "Mon-Fri 18:00, Sat 11:00" --zone Europe/Berlin
  python -m tiktok slots show @studio
  python -m tiktok slots next @studio --count 3
  python -m tiktok slots feed --new

exit codes: 0 done; 2 an unknown account, slots that do not read, or an account without slots."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "slots", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("action", choices=("show", "set", "next", "feed"),
                        help="show: an account's slots; set: replace them; next: its next free slots; feed: the "
                             "calendar feed")
    parser.add_argument("account", nargs="?", help="the account: @name or open_id (not for feed)")
    parser.add_argument("slots", nargs="?", help='for set: like "Mon-Fri 18:00, Sat 11:00" ("" removes them)')
    parser.add_argument("--zone", default="", help="for set: the account's time zone, like Europe/Berlin "
                        "(default: TZ)")
    parser.add_argument("--count", type=int, default=1, help="for next: how many free slots (default 1)")
    feed = parser.add_mutually_exclusive_group()
    feed.add_argument("--new", action="store_true", help="for feed: make a new secret address")
    feed.add_argument("--revoke", action="store_true", help="for feed: end the feed (its address answers 404)")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import ExitStatus
    from tiktok.store.base import open_store

    if opts.action != "feed" and not opts.account:
        raise ConfigError(f"slots {opts.action} needs an ACCOUNT: its @name or open_id")
    if opts.action == "set" and opts.slots is None:
        raise ConfigError('slots set needs the slots after the account, like "Mon-Fri 18:00, Sat 11:00"')
    if opts.count < 1:
        raise ConfigError("--count must be 1 or more")
    store = open_store(ctx.settings, clock=ctx.clock)
    try:
        if opts.action == "feed":
            _feed(opts, store)
        else:
            open_id, name = _account(ctx, opts.account)
            {"show": _show, "set": _set, "next": _next}[opts.action](opts, ctx, store, open_id, name)
    finally:
        store.close()
    return ExitStatus.OK


def _account(ctx: Context, given: str) -> tuple[str, str]:
    """(open_id, how to name it) of ``given``, an @name or an open_id kept in the token store."""
    from tiktok.errors import AccountNotFound

    accounts = ctx.services.store.load()
    for account in accounts.values():
        if given in (account.open_id, f"@{account.username}" if account.username else None):
            return account.open_id, f"@{account.username}" if account.username else account.open_id
    raise AccountNotFound(given, ctx.settings.store.tokens_path)


def _show(opts, ctx, store, open_id: str, name: str) -> None:
    from tiktok.logs import echo

    kept = store.account_slots(open_id)
    if kept is None:
        echo(f"{name}: no posting slots; set them with: python -m tiktok slots set {name} \"Mon-Fri 18:00\"")
    else:
        echo(f"{name}: {kept['slots']} ({kept.get('zone') or 'TZ'})")


def _set(opts, ctx, store, open_id: str, name: str) -> None:
    from tiktok.errors import ConfigError
    from tiktok.logs import echo
    from tiktok.posting.slots import parse, zone_named

    if not opts.slots.strip():
        store.set_account_slots(open_id, None)
        echo(f"{name}: posting slots removed")
        return
    try:
        slots = parse(opts.slots)
        if opts.zone:
            zone_named(opts.zone)
    except ValueError as exc:
        raise ConfigError(f"slots set {name}: {exc}; nothing was changed") from None
    store.set_account_slots(open_id, slots.text(), opts.zone)
    echo(f"{name}: posting slots set to {slots.text()} ({opts.zone or 'TZ'})")


def _next(opts, ctx, store, open_id: str, name: str) -> None:
    from tiktok.errors import ConfigError
    from tiktok.logs import echo
    from tiktok.posting.slots import account_free_slots, zone_named
    from tiktok.text import local_zone, moment

    try:
        found = account_free_slots(store, open_id, now=ctx.world_clock(), default_zone=local_zone(),
                                   count=opts.count)
    except ValueError as exc:
        raise ConfigError(f"{name} {exc}") from None
    zone = (store.account_slots(open_id) or {}).get("zone")
    if not found:
        echo(f"{name}: no free slot in the next two years (every slot is taken or its day is full)")
    for at in found:
        echo(f"{name}: {moment(at, zone_named(zone) if zone else None)}")


def _feed(opts, store) -> None:
    from tiktok.logs import echo
    from tiktok.web.calendar_feed import feed_path, new_feed_token, revoke_feed_token

    if opts.new:
        token = new_feed_token(store)
        echo(f"calendar feed address (keep it secret; shown once): <the app's address>{feed_path(token)}")
        echo("the previous address, if any, no longer works")
    elif opts.revoke:
        echo("calendar feed revoked: its address now answers 404" if revoke_feed_token(store)
             else "no calendar feed to revoke")
    else:
        echo("the calendar feed is on (make a new address with --new, end it with --revoke)"
             if store.feed_token_digest() else "no calendar feed: make one with python -m tiktok slots feed --new")
