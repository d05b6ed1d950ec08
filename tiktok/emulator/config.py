"""What the emulated TikTok app registration and its users look like.

Defaults follow the Nov-2026 docs (reference §2.3): access tokens live 2 h, refresh tokens 180 days, refresh tokens
rotate strictly. ``EmulatorConfig.legacy()`` gives the older 24 h / 365 d profile.

UNCONFIRMED upstream, chosen here:
- authorization codes live 10 minutes (``code_ttl``);
- a refresh keeps the refresh-token deadline fixed from first issuance ("after the initial issuance"), unless
  ``refresh_extends_deadline`` is set;
- the token endpoint verifies PKCE with lowercase hex (TikTok desktop docs); ``pkce_encoding="base64url"`` switches
  to RFC 7636.

The app's mode (reference 8.2, 8.3): ``audited`` (everything allowed; the default), ``unaudited`` (Direct Post only
``SELF_ONLY`` to a private account, 5 posting users per 24 h; inbox drafts unaffected) or ``sandbox`` (only the
sandbox's target users may authorise). ``mode=None`` keeps the older switches: ``sandbox_targets`` given means
sandbox, ``audited=False`` means unaudited. ``EmulatorConfig.app_mode`` is the mode in force.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .posts import PostingSettings
from .redirects import validate_registered_uri

ACCESS_TTL_S = 7200            # Nov-2026 token docs: "2 hours"
REFRESH_TTL_S = 15_552_000     # Nov-2026 token docs: 180 days
CODE_TTL_S = 600               # UNCONFIRMED upstream ("minutes"); we choose 10 min
LEGACY_LIFETIMES = (86400, 31_536_000)  # older docs: access 24 h, refresh 365 days (seconds)

MAX_REDIRECT_URIS = 10         # Login Kit docs: at most 10 registered redirect URIs
DAILY_POST_CAP = 15            # reference section 7: ~15 direct posts per creator per 24 h
PENDING_SHARE_CAP = 5          # reference section 3.3: 5 pending inbox shares per 24 h
UNAUDITED_USER_CAP = 5         # reference section 8.3: 5 posting users per 24 h for an unaudited app
UPLOAD_URL_TTL_S = 3600        # reference section 3.2: the upload_url is valid for one hour
PROCESSING_POLLS = 2           # EMU: status fetches still "processing" after the media arrived

#: Scopes the emulator knows about (reference §8.1); anything else is "unknown" at the authorize page.
KNOWN_SCOPES = (
    "user.info.basic", "user.info.profile", "user.info.stats",
    "video.list", "video.publish", "video.upload",
)
PKCE_ENCODINGS = ("hex", "base64url")
APP_MODES = ("sandbox", "unaudited", "audited")  # reference 8.2 (sandbox), 8.3 (unaudited); audited: no limits


@dataclass(frozen=True)
class EmulatedUser:
    """A TikTok account that can log in to the emulator; every field is public profile data."""

    open_id: str
    union_id: str
    display_name: str
    username: str
    bio_description: str = ""
    is_verified: bool = False
    private_account: bool = False
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0
    video_count: int = 0  # unused: user info counts the public videos in the catalogue (catalogue.py)
    seeded_videos: int | None = None  # videos seeded in the catalogue; None = 3, or 0 for a private account
    sandbox_target: bool = True  # may authorise a sandbox app when the config names no targets (reference 8.2)


def default_users() -> list[EmulatedUser]:
    """Three seeded accounts with fixed UUID-like open_ids; the last one (Cy) is private and is not a sandbox target,
    so a sandbox app refuses it (reference 8.2: only target users may authorise)."""
    return [
        EmulatedUser(
            open_id="723f24d7-e717-40f8-a2b6-cb8464cd23b4", union_id="c9a1e0f2-5b1d-4c53-9a4e-0d2f6b7e8a11",
            display_name="Ada Creator", username="ada.creates", bio_description="Cooking in 60 seconds.",
            is_verified=True, follower_count=15230, following_count=180, likes_count=402117, video_count=87,
            seeded_videos=25),  # more than one 20-video page
        EmulatedUser(
            open_id="0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68", union_id="4e8d2b17-a3c6-4f90-8e15-7b2c9d0a6f34",
            display_name="Bo Sandbox", username="bo_tests", bio_description="Test account.",
            follower_count=12, following_count=40, likes_count=35, video_count=3),
        EmulatedUser(
            open_id="e51a7d90-2c4b-4b6f-9e03-8a1d5c7f2b49", union_id="a07c5e3d-1f28-4d6b-b9a4-3e6f8c2d1b75",
            display_name="Cy Private", username="cy.private", private_account=True,
            follower_count=3, following_count=9, likes_count=0, video_count=0, sandbox_target=False),
    ]


def generated_users(count: int, start: int = 1) -> list[EmulatedUser]:
    """``count`` more public accounts with fixed ids (``user0001``, ...), for benchmarks with many accounts."""
    return [EmulatedUser(open_id=f"00000000-0000-4000-8000-{n:012d}", union_id=f"00000000-0000-4000-9000-{n:012d}",
                         display_name=f"Emulated user {n}", username=f"user{n:04d}", follower_count=10 * n,
                         following_count=n, likes_count=100 * n) for n in range(start, start + count)]


def default_posting() -> dict[str, PostingSettings]:
    """Per-user posting settings: Bo may post at most 60 s and has stitches off; others use the defaults."""
    return {"0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68": PostingSettings(max_video_post_duration_sec=60,
                                                                    stitch_disabled=True)}


def _default_redirect_uris() -> list[str]:
    return ["http://127.0.0.1:*/callback/", "http://localhost:*/callback/"]


def _default_scopes() -> list[str]:
    return list(KNOWN_SCOPES)


@dataclass
class EmulatorConfig:
    """One app registration (client key, secret, redirect URIs, approved scopes) plus emulator knobs."""

    client_key: str = "emulator-client-key"
    client_secret: str = "emulator-client-secret"
    app_name: str = "TikTok Tool (emulated)"
    redirect_uris: list[str] = field(default_factory=_default_redirect_uris)
    approved_scopes: list[str] = field(default_factory=_default_scopes)
    users: list[EmulatedUser] = field(default_factory=default_users)
    # "sandbox", "unaudited" or "audited"; None: sandbox if sandbox_targets is given, unaudited if audited is False,
    # else audited (see ``app_mode``)
    mode: str | None = None
    # open_ids a sandbox app lets authorise; None: the users marked ``sandbox_target`` (in sandbox mode only)
    sandbox_targets: list[str] | None = None
    access_ttl: int = ACCESS_TTL_S
    refresh_ttl: int = REFRESH_TTL_S
    code_ttl: int = CODE_TTL_S
    pkce_encoding: str = "hex"
    refresh_extends_deadline: bool = False
    # posting side (see tiktok/emulator/publish.py for the rules these feed)
    posting: dict[str, PostingSettings] = field(default_factory=default_posting)  # open_id -> settings
    audited: bool = True  # the older switch: False means unaudited when ``mode`` is None
    daily_post_cap: int = DAILY_POST_CAP
    pending_share_cap: int = PENDING_SHARE_CAP
    unaudited_user_cap: int = UNAUDITED_USER_CAP
    verified_url_prefixes: list[str] = field(default_factory=list)  # domains ("cdn.example.com") or URL prefixes
    processing_polls: int = PROCESSING_POLLS
    upload_url_ttl: int = UPLOAD_URL_TTL_S
    media_dir: str | None = None  # where received media goes; None: a fresh temporary directory per state
    # EMU: real seconds every API request waits before it is handled, a stand-in for the network round trip to
    # TikTok (benchmarks of concurrent clients need it; loopback answers in well under a millisecond)
    latency_s: float = 0.0
    # reference 3.5: public posts' ids appear only after moderation ("usually < 1 min, sometimes hours", often
    # never); emulator seconds after PUBLISH_COMPLETE, or never when withheld (tiktok/emulator/moderation.py)
    moderation_delay_s: float = 0.0
    withhold_post_ids: bool = False
    reject_branded_self_only: bool = False  # reference 8.4: UNCONFIRMED; strict mode answers 400 invalid_param

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise ValueError("invalid emulator config: " + "; ".join(problems))

    @classmethod
    def legacy(cls, **overrides: object) -> "EmulatorConfig":
        """The pre-Nov-2026 profile: 24 h access tokens, 365-day refresh tokens."""
        access, refresh = LEGACY_LIFETIMES
        return cls(**{"access_ttl": access, "refresh_ttl": refresh, **overrides})  # type: ignore[arg-type]

    def replace(self, **changes: object) -> "EmulatorConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def app_mode(self) -> str:
        """The mode in force: ``mode`` when set, else derived from ``sandbox_targets`` and ``audited``."""
        if self.mode is not None:
            return self.mode
        if self.sandbox_targets is not None:
            return "sandbox"
        return "audited" if self.audited else "unaudited"

    @property
    def targets(self) -> list[str] | None:
        """The open_ids that may authorise: None (anyone) unless the app is a sandbox (reference 8.2)."""
        if self.app_mode != "sandbox":
            return None
        if self.sandbox_targets is not None:
            return list(self.sandbox_targets)
        return [u.open_id for u in self.users if u.sandbox_target]

    def user(self, open_id: str) -> EmulatedUser | None:
        """The emulated user with this open_id, if any."""
        return next((u for u in self.users if u.open_id == open_id), None)

    def posting_settings(self, open_id: str) -> PostingSettings:
        """The posting settings of ``open_id`` (defaults when none are configured)."""
        return self.posting.get(open_id) or PostingSettings()


def config_problems(config: EmulatorConfig) -> list[str]:
    """Every reason the config cannot describe a TikTok app registration (empty when fine)."""
    problems = []
    if not config.client_key or not config.client_secret:
        problems.append("client_key and client_secret must be non-empty")
    if not config.redirect_uris or len(config.redirect_uris) > MAX_REDIRECT_URIS:
        problems.append(f"between 1 and {MAX_REDIRECT_URIS} redirect URIs are required")
    problems += [p for uri in config.redirect_uris if (p := validate_registered_uri(uri))]
    problems += [f"unknown scope {s!r}" for s in config.approved_scopes if s not in KNOWN_SCOPES]
    if config.mode is not None and config.mode not in APP_MODES:
        problems.append(f"mode must be one of {APP_MODES}")
    targets = config.sandbox_targets
    if targets is not None and (not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)):
        problems.append("sandbox_targets must be a list of open_ids")
    if config.pkce_encoding not in PKCE_ENCODINGS:
        problems.append(f"pkce_encoding must be one of {PKCE_ENCODINGS}")
    if min(config.access_ttl, config.refresh_ttl, config.code_ttl) <= 0:
        problems.append("lifetimes must be positive")
    if not config.users or len({u.open_id for u in config.users}) != len(config.users):
        problems.append("users must be non-empty with distinct open_ids")
    problems += [f"seeded_videos of {u.open_id} must be >= 0" for u in config.users if (u.seeded_videos or 0) < 0]
    return problems + posting_problems(config)


def posting_problems(config: EmulatorConfig) -> list[str]:
    """Every reason the posting knobs are unusable (empty when fine)."""
    problems = []
    if min(config.daily_post_cap, config.pending_share_cap, config.unaudited_user_cap, config.processing_polls) < 0:
        problems.append("posting caps and processing_polls must be >= 0")
    if config.upload_url_ttl <= 0:
        problems.append("upload_url_ttl must be positive")
    if not 0 <= config.latency_s <= 10:
        problems.append("latency_s must be from 0 to 10 seconds")
    delay = config.moderation_delay_s
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay) or delay < 0:
        problems.append("moderation_delay_s must be a finite number of seconds >= 0")
    if not isinstance(config.withhold_post_ids, bool):
        problems.append("withhold_post_ids must be True or False")
    problems += [problem for prefix in config.verified_url_prefixes if (problem := prefix_problem(prefix))]
    return problems


def prefix_problem(prefix: object) -> str | None:
    """Why ``prefix`` is not one of TikTok's two URL properties (reference 4.3), or None: a domain
    (``static.example.com``: no scheme, no path) or a URL prefix (``https://example.com/videos/``: ending in '/')."""
    if not isinstance(prefix, str) or not prefix or prefix != prefix.strip() or any(c in prefix for c in "\0\r\n"):
        return f"verified URL prefix {prefix!r} must be a non-empty text without spaces around it"
    if "://" in prefix:
        scheme = prefix.split("://", 1)[0]
        if scheme not in ("https", "http"):
            return f"verified URL prefix {prefix!r} must start with https:// (or be a bare domain)"
        if not prefix.endswith("/"):
            return f"verified URL prefix {prefix!r} must be a domain or end with '/'"
        return None
    if "/" in prefix or "." not in prefix:
        return f"verified URL prefix {prefix!r}: a domain is a host name such as static.example.com, with no path"
    return None
