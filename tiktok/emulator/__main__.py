"""Run the TikTok emulator until Ctrl-C.

    python -m tiktok.emulator --port 5123 [--mode sandbox|unaudited|audited]

Prints the URL, the client key, the app mode and the registered redirect URIs (never the client secret).
"""

from __future__ import annotations

import argparse
import sys
import threading

from .config import APP_MODES, LEGACY_LIFETIMES, EmulatorConfig, default_users, generated_users
from .server import start_emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok.emulator",
        description="Run a strict local emulator of TikTok's Login Kit, OAuth and user-info endpoints. "
                    "Nothing it does reaches TikTok.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, a free port)")
    parser.add_argument("--client-key", help="the emulated app's client key")
    parser.add_argument("--client-secret", help="the emulated app's client secret")
    parser.add_argument("--redirect-uri", action="append", metavar="URI",
                        help="a registered redirect URI (repeatable; loopback URIs may use port *)")
    parser.add_argument("--mode", choices=APP_MODES,
                        help="the app's state at TikTok: audited (default; everything allowed), unaudited (Direct "
                             "Post only SELF_ONLY to private accounts, 5 posting users a day; inbox drafts work) or "
                             "sandbox (only target users may log in: every default user but Cy)")
    parser.add_argument("--sandbox-user", action="append", metavar="OPEN_ID",
                        help="make the app a sandbox that only this user may authorise (repeatable)")
    parser.add_argument("--legacy-lifetimes", action="store_true",
                        help=f"use the older token lifetimes ({LEGACY_LIFETIMES[0]} s / {LEGACY_LIFETIMES[1]} s)")
    parser.add_argument("--access-ttl", type=int, metavar="S", help="access token lifetime in seconds")
    parser.add_argument("--refresh-ttl", type=int, metavar="S", help="refresh token lifetime in seconds")
    parser.add_argument("--pkce-encoding", choices=("hex", "base64url"),
                        help="how the token endpoint checks PKCE (default: hex, as TikTok desktop apps)")
    parser.add_argument("--latency", type=float, metavar="S",
                        help="real seconds each API request waits, like the network to TikTok (default 0)")
    parser.add_argument("--extra-users", type=int, default=0, metavar="N",
                        help="seed N more public accounts (user0001, ...) beside the three default ones")
    parser.add_argument("--moderation-delay", type=float, metavar="S",
                        help="seconds after PUBLISH_COMPLETE before a public post's id is published (default 0)")
    parser.add_argument("--verified-prefix", action="append", metavar="PREFIX",
                        help="a URL prefix (ending in /) or domain verified for the app: PULL_FROM_URL videos and "
                             "photos must come from one (repeatable; default: none, as for a new app)")
    parser.add_argument("--withhold-post-ids", action="store_true",
                        help="never publish public post ids, as TikTok sometimes does")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """An EmulatorConfig from parsed arguments; ValueError when they describe an invalid app."""
    changes: dict[str, object] = {}
    if args.legacy_lifetimes:
        changes["access_ttl"], changes["refresh_ttl"] = LEGACY_LIFETIMES
    for name in ("client_key", "client_secret", "access_ttl", "refresh_ttl", "pkce_encoding"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.redirect_uri:
        changes["redirect_uris"] = args.redirect_uri
    if args.verified_prefix:
        changes["verified_url_prefixes"] = args.verified_prefix
    if args.mode is not None:
        changes["mode"] = args.mode
    if args.sandbox_user:
        if args.mode not in (None, "sandbox"):
            raise ValueError(f"--sandbox-user names a sandbox's target users: it needs --mode sandbox, not {args.mode}")
        changes["sandbox_targets"] = args.sandbox_user
    if args.latency is not None:
        changes["latency_s"] = args.latency
    if args.moderation_delay is not None:
        changes["moderation_delay_s"] = args.moderation_delay
    if args.withhold_post_ids:
        changes["withhold_post_ids"] = True
    if args.extra_users:
        if args.extra_users < 0:
            raise ValueError("--extra-users must be 0 or more")
        changes["users"] = default_users() + generated_users(args.extra_users)
    return EmulatorConfig(**changes)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = start_emulator(config, host=args.host, port=args.port)
    print(f"TikTok emulator running at {server.url}", flush=True)
    print(f"client key: {config.client_key}", flush=True)
    print(f"app mode: {config.app_mode}", flush=True)
    if config.targets is not None:
        print(f"sandbox target users: {', '.join(config.targets) or 'none'}", flush=True)
    for uri in config.redirect_uris:
        print(f"redirect URI: {uri}", flush=True)
    for prefix in config.verified_url_prefixes:
        print(f"verified URL prefix: {prefix}", flush=True)
    if config.withhold_post_ids or config.moderation_delay_s:
        review = "withheld for good" if config.withhold_post_ids else f"after {config.moderation_delay_s:g} s"
        print(f"public post ids: {review}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
