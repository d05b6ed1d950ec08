"""check the alert channels: send a test message to each now (alerts test); what each was sent (alerts status)

The channels are NOTIFY_URLS (apprise: email, Slack, Discord, Telegram, ntfy, ...) and WEBHOOK_URLS (signed JSON).
Each is named by its setting and place (email channel 1 of NOTIFY_URLS, webhook 2 of WEBHOOK_URLS), never by its
URL, which may hold a password or a token.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes: test: 0 every channel took the test message; 1 some channel did not (its line says why);
status: 0 nothing given up; 1 an alert was given up in the last 24 hours (a channel failed for 24 hours: fix it, then
alerts test). Both: 2 no channel is set (NOTIFY_URLS, WEBHOOK_URLS), or bad configuration; 4 (status) the post
store's database cannot be reached now."""
TEST_DOC = """send one test message to every channel now

Every channel of NOTIFY_URLS and WEBHOOK_URLS is sent one test message at once, one line each saying whether it took
it and, if not, why. It is not recorded in the post store, so no other process sends it again. A webhook gets it
exactly as a real event (the same JSON body, headers and signature) with kind "test" and a fresh negative id (never
a real event's), so a receiver can check its signature check; email and chat say it is a test from this tool."""
TEST_EPILOG = "exit codes: 0 every channel took it; 1 some channel did not; 2 no channel is set."
STATUS_DOC = """per channel: alerts pending, sent and given up, and the last failure's reason

Counts the post store's deliveries of each channel of NOTIFY_URLS and WEBHOOK_URLS: pending (waiting for their
first try, or for a retry after a failure), sent, and given up (after 24 hours of failed tries), with the reason of
the last failure, if any, and when it is tried again or was given up."""
STATUS_EPILOG = """exit codes: 0 nothing was given up in the last 24 hours; 1 an alert was given up in the last 24
hours; 2 no channel is set; 4 the post store's database cannot be reached now."""
GIVE_UP_WINDOW_S = 24 * 3600.0  # status fails when an alert was given up this recently


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "alerts", __doc__, parents=parents, epilog=EPILOG)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    # -v after the action too, without its default undoing a -v given before it
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="log HTTP-level detail to stderr")
    command_parser(actions, "test", TEST_DOC, parents=[verbose], epilog=TEST_EPILOG)
    command_parser(actions, "status", STATUS_DOC, parents=[verbose], epilog=STATUS_EPILOG)
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """test: one line per channel, sent or FAILED and why; status: one line per channel, then any problem."""
    return _test(ctx) if opts.action == "test" else _status(ctx)


def _test(ctx: Context) -> int:
    from tiktok.alerts.deliver import send_test
    from tiktok.exitcodes import ExitStatus
    from tiktok.logs import echo

    settings = ctx.settings
    _need_channels(settings)
    failed = 0
    for label, sent in send_test(settings, clock=ctx.clock):
        echo(f"{ctx.prefix}{label}: " + ("sent" if sent.ok else f"FAILED: {_plain(sent.reason, label)}"))
        failed += not sent.ok
    return ExitStatus.FAILED if failed else ExitStatus.OK


def _status(ctx: Context) -> int:
    from tiktok.alerts.deliver import channels_of
    from tiktok.exitcodes import ExitStatus
    from tiktok.logs import echo
    from tiktok.store.base import open_store
    from tiktok.store.events import GAVE_UP, PENDING, SENT
    from tiktok.text import count, moment

    settings = ctx.settings
    store = open_store(settings, clock=ctx.clock)  # first: a store that cannot be used says so, as everywhere
    try:
        _need_channels(settings)
        now = ctx.clock()
        given_up = 0
        for channel in channels_of(settings, clock=ctx.clock):
            counts = store.delivery_counts([channel.id])
            trouble = store.delivery_trouble(channel.id, since=now - GIVE_UP_WINDOW_S)
            given_up += trouble.gave_up_since
            line = (f"{channel.label}: {counts[PENDING]:,} pending, {counts[SENT]:,} sent, "
                    f"{counts[GAVE_UP]:,} given up")
            if trouble.gave_up_since:
                line += f" ({trouble.gave_up_since:,} in the last 24 hours)"
            if trouble.error:
                when = (f"next try at {moment(trouble.retry_at)}" if trouble.retry_at is not None
                        else f"given up at {moment(trouble.gave_up_at)}" if trouble.gave_up_at is not None else "")
                line += f"; last failure: {_plain(trouble.error, channel.label)}" + (f"; {when}" if when else "")
            echo(ctx.prefix + line)
    finally:
        store.close()
    if given_up:
        echo(f"{ctx.prefix}problem: {count(given_up, 'alert')} given up in the last 24 hours (its channel failed "
             "every try for 24 hours): fix the channel, then check it with python -m tiktok alerts test")
        return ExitStatus.FAILED
    return ExitStatus.OK


def _need_channels(settings) -> None:
    from tiktok.errors import ConfigError

    if not settings.alerts.enabled:
        raise ConfigError("no alert channel is set: NOTIFY_URLS and WEBHOOK_URLS are both empty. Set NOTIFY_URLS to "
                          "apprise URLs (email, Slack, Discord, Telegram, ntfy, ...) and/or WEBHOOK_URLS to web "
                          "addresses with WEBHOOK_SECRET, in .env (README: Alerts and webhooks)")


def _plain(reason: str, label: str) -> str:
    """A channel's reason (``the webhook 1 of WEBHOOK_URLS answered HTTP 500``) after its label: ``answered HTTP
    500``."""
    lead = f"the {label} "
    return reason[len(lead):] if reason.startswith(lead) else reason
