"""The set-up's checks for ``python -m tiktok doctor``: each gives a verdict (ok, problem or note), a plain sentence
and the fix. Not the media doctor (:mod:`tiktok.media.doctor`, which repairs video files).

The rules are pure functions of the settings, an account's fields, a file's mode or a probe's result; the probes
(:func:`probe`, :func:`emulator_probe`) are the only I/O here, each with a short timeout. Sources:

- redirect URI: reference section 1.3 (TikTok's Login Kit pages): absolute, under 512 characters, no query and no
  fragment; web apps ``https`` on any public host; desktop apps ``http`` or ``https`` only on ``localhost`` or
  ``127.0.0.1`` with a port (``[::1]`` is not listed); the token exchange's URI must equal it exactly, trailing
  slash included. The app serves its callback at ``/callback/`` (tiktok.web.views).
- scopes: reference section 8.1 and what each feature asks for in this code: direct posting ``video.publish``,
  inbox drafts ``video.upload``, the report and transcription ``video.list`` (tiktok.report.daily,
  tiktok.transcription.jobs), the report's counts ``user.info.stats`` and usernames ``user.info.profile``
  (tiktok.report.fetch), every account's name ``user.info.basic``.
- files: the token file holds every account's tokens and the SQLite store the posts' upload URLs: neither may be
  readable by the group or others (0600, as tiktok.atomic writes the token file).

- app mode: TIKTOK_APP_MODE or as detected (tiktok.posting.policy.app_mode); an unaudited app may Direct Post only
  to a private account, which creator_info shows by offering ``FOLLOWER_OF_CREATOR`` (reference 3.1, 8.2).

:func:`gather` runs them all for ``python -m tiktok doctor`` and the Setup page (``/setup/``). It reads settings
(plumbing) and duck-typed accounts (``open_id``, ``username``, ``scopes``, ...); it imports
nothing above plumbing (tests/test_import_rules.py).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from tiktok.config import EMULATOR_CLIENT_KEY, EMULATOR_CLIENT_SECRET, Settings
from tiktok.words import relink

OK, PROBLEM, NOTE = "ok", "problem", "note"
VERDICTS = (OK, PROBLEM, NOTE)
CALLBACK_PATH = "/callback/"  # the app's callback route (tiktok.web.views.callback)
MAX_REDIRECT_URI_CHARS = 511  # reference 1.3: "< 512 chars"
DESKTOP_HOSTS = ("localhost", "127.0.0.1")  # reference 1.3: the only hosts a desktop redirect URI may name
REFRESH_WARN_S = 30 * 86400.0  # an account whose refresh token dies within 30 days must be linked again soon
PROBE_TIMEOUT_S = 3.0  # every reachability probe: a set-up check, not a wait
# what each scope is for here (reference 8.1 and the code named in the docstring)
SCOPE_USES = {
    "user.info.basic": "the account's name",
    "user.info.profile": "the report's usernames",
    "user.info.stats": "the report's follower and like counts",
    "video.list": "the daily report and transcription",
    "video.publish": "direct posting",
    "video.upload": "posting to the inbox as drafts",
}


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``verdict`` (ok / problem / note), a sentence, and for a problem the fix."""

    name: str
    verdict: str
    sentence: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.verdict:<7} {self.sentence}" + (f" Fix: {self.fix}" if self.fix else "")

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "verdict": self.verdict, "sentence": self.sentence, "fix": self.fix}


def exit_status(checks: Iterable[Check]) -> int:
    """0 when no check is a problem (notes do not count), else 1."""
    return 1 if any(check.verdict == PROBLEM for check in checks) else 0


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- credentials -----------------------------------------------------------------------------------------------------

def credentials(settings: Settings) -> Check:
    """The app's client key and secret are set (never shown), or emulated mode with the emulator's address."""
    t = settings.tiktok
    if t.emulated and (t.client_key, t.client_secret) == (EMULATOR_CLIENT_KEY, EMULATOR_CLIENT_SECRET):
        return Check("credentials", NOTE, f"Emulated mode with the emulator's built-in app (no TIKTOK_CLIENT_KEY of "
                     f"yours): everything talks to the TikTok emulator at {t.api_base}, never to TikTok.")
    if not t.client_key or not t.client_secret:
        return Check("credentials", PROBLEM, "TIKTOK_CLIENT_KEY or TIKTOK_CLIENT_SECRET is empty.",
                     "copy both from your app's page in the TikTok developer portal into .env.")
    where = f"the emulator at {t.api_base} (TIKTOK_API_BASE)" if t.emulated else "TikTok"
    return Check("credentials", OK, f"TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET are set (not shown); this talks "
                 f"to {where}.")


# -- the redirect URI ------------------------------------------------------------------------------------------------

def redirect_uri_problems(uri: str) -> list[tuple[str, str]]:
    """What breaks TikTok's registration rules (reference 1.3) in ``uri``, byte for byte: (problem, fix) pairs."""
    found: list[tuple[str, str]] = []
    if len(uri) > MAX_REDIRECT_URI_CHARS:
        found.append((f"it is {len(uri)} characters long; TikTok takes fewer than 512", "use a shorter address"))
    if not uri.isascii() or any(c.isspace() or not c.isprintable() for c in uri):
        found.append(("it holds spaces, control or non-ASCII characters, which TikTok compares byte for byte",
                      "remove them (percent-encode anything else)"))
    try:
        parts = urlsplit(uri)
        port = None if parts.netloc.endswith(":*") else parts.port
    except ValueError:
        return [*found, ("it is not an address TikTok can read", "use a form such as "
                         "http://127.0.0.1:8000/callback/")]
    if parts.netloc.endswith(":*"):
        found.append(("its port is the wildcard *, which is for the registration in TikTok's portal: the app sends "
                      "its real address", "use the app's port, such as :8000"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [*found, ("it is not absolute (scheme and host)", "use a form such as http://127.0.0.1:8000/callback/")]
    if parts.query or "?" in uri:
        found.append(("it has a query (?...); TikTok takes only static redirect URIs", "remove the query"))
    if parts.fragment or "#" in uri:
        found.append(("it has a fragment (#...); TikTok takes only static redirect URIs", "remove the fragment"))
    host = parts.hostname
    if host in DESKTOP_HOSTS:
        if port is None and not parts.netloc.endswith(":*"):
            found.append(("a localhost or 127.0.0.1 redirect URI (a desktop app's) needs a port",
                          "add the app's port, such as :8000"))
    elif host in ("::1", "[::1]"):
        found.append(("TikTok does not list [::1] among the loopback hosts it accepts", "use 127.0.0.1"))
    elif parts.scheme != "https":
        found.append(("TikTok accepts http only on localhost or 127.0.0.1 (a desktop app); elsewhere it must be "
                      "https", "use https:// (a web app) or http://127.0.0.1:<port>/callback/ (a desktop app)"))
    return found


def redirect_uri(settings: Settings) -> Check:
    """TIKTOK_REDIRECT_URI against TikTok's rules and against where the app serves its callback."""
    uri, app = settings.tiktok.redirect_uri, settings.app
    problems = redirect_uri_problems(uri)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is not None and parts.hostname:
        if parts.path != CALLBACK_PATH:
            problems.append((f"its path is {parts.path or '(none)'!r}, but the app serves its callback at "
                             f"{CALLBACK_PATH} (the trailing slash counts)", f"end it with {CALLBACK_PATH}"))
        if parts.hostname in DESKTOP_HOSTS and parts.port is not None and parts.port != app.port:
            problems.append((f"it sends the browser back to port {parts.port}, but the app listens on port "
                             f"{app.port} (PORT)", f"use port {app.port} in it, or start the app with --port "
                             f"{parts.port}"))
    if problems:
        said = "; ".join(problem for problem, _ in problems)
        fixes = "; ".join(fix for _, fix in problems)
        return Check("redirect_uri", PROBLEM, f"TIKTOK_REDIRECT_URI {uri!r}: {said}.",
                     f"in .env, TIKTOK_REDIRECT_URI: {fixes}; register the same address in TikTok's developer "
                     "portal, byte for byte.")
    desktop = urlsplit(uri).hostname in DESKTOP_HOSTS
    kind = "desktop: loopback with a port" if desktop else "web: https"
    served = ("is where the app serves its callback" if desktop
              else f"must lead to this app at {app.host}:{app.port} (a tunnel or a reverse proxy)")
    return Check("redirect_uri", OK, f"TIKTOK_REDIRECT_URI {uri} follows TikTok's rules ({kind}) and {served}; "
                 "it must be registered in TikTok's developer portal exactly so, trailing slash included.")


# -- scopes and accounts ---------------------------------------------------------------------------------------------

def scopes_asked(settings: Settings) -> Check:
    """The features TIKTOK_SCOPES leaves off (a note: a choice, not a fault)."""
    off = [f"{scope} ({SCOPE_USES[scope]})" for scope in SCOPE_USES if scope not in settings.tiktok.scopes]
    if not off:
        return Check("scopes", OK, "TIKTOK_SCOPES asks for every scope the features use: "
                     f"{', '.join(SCOPE_USES)}.")
    return Check("scopes", NOTE, f"TIKTOK_SCOPES does not ask for {_words(off)}: those features are off. Add the "
                 "scopes to TIKTOK_SCOPES (and to your app in TikTok's portal) to use them.")


def account_name(account: Any) -> str:
    """@username when known, else the display name or the open_id (never a token)."""
    if account.username:
        return f"@{account.username}"
    return account.display_name or account.open_id


def account_scopes(account: Any, settings: Settings) -> Check:
    """The scopes TIKTOK_SCOPES asks for that ``account`` did not grant: each feature that needs one is off for it."""
    name = account_name(account)
    missing = [scope for scope in settings.tiktok.scopes if scope not in account.scopes]
    if not missing:
        return Check(f"scopes:{account.open_id}", OK, f"{name} granted every scope asked for "
                     f"({', '.join(settings.tiktok.scopes)}).")
    uses = [f"{scope} ({SCOPE_USES.get(scope, 'asked for in TIKTOK_SCOPES')})" for scope in missing]
    return Check(f"scopes:{account.open_id}", PROBLEM, f"{name} did not grant {_words(uses)}.",
                 f"link {name} again in the app (Login with TikTok) and leave "
                 f"{'it' if len(missing) == 1 else 'them'} ticked on TikTok's consent page.")


def account_grant(account: Any, now: float) -> Check:
    """Whether ``account`` must be linked again: TikTok refused its refresh token, or it runs out within 30 days."""
    name, check = account_name(account), f"grant:{account.open_id}"
    if account.relink_reason:
        return Check(check, PROBLEM, f"{name} must be linked again: {relink(account.relink_reason).sentence}",
                     f"open the app and link {name} again (Login with TikTok).")
    left = account.refresh_expires_at - now
    day = datetime.fromtimestamp(account.refresh_expires_at, timezone.utc).strftime("%Y-%m-%d")
    if left <= 0:
        return Check(check, PROBLEM, f"{name}'s refresh token ran out on {day} (UTC): nothing can be posted or read "
                     "for it.", f"open the app and link {name} again (Login with TikTok).")
    if left <= REFRESH_WARN_S:
        return Check(check, PROBLEM, f"{name}'s refresh token runs out on {day} (UTC), within 30 days.",
                     f"open the app and link {name} again (Login with TikTok) before then.")
    return Check(check, OK, f"{name} is linked; its refresh token lasts until {day} (UTC).")


def elsewhere(account: Any) -> Check:
    """A note: ``account`` was linked through the other side (emulator or TikTok) and is not checked here."""
    where, now = ("the emulator", "TikTok") if account.emulated else ("TikTok", "the emulator")
    return Check(f"account:{account.open_id}", NOTE, f"{account_name(account)} was linked through {where}; it is "
                 f"not used while this talks to {now}.")


# -- files -----------------------------------------------------------------------------------------------------------

def file_mode(name: str, what: str, path: Path, mode: int | None) -> Check:
    """``mode`` (None: no such file) must give the group and others nothing (0600)."""
    if mode is None:
        return Check(name, NOTE, f"The {what} {path} does not exist yet: it is made on first use.")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Check(name, PROBLEM, f"The {what} {path} has permissions {stat.S_IMODE(mode):04o}: the group or "
                     "others can read it.", f"chmod 600 {path}")
    return Check(name, OK, f"The {what} {path} is readable by its owner only ({stat.S_IMODE(mode):04o}).")


def mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None


# -- reachability ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """What an address did: ``status`` (an HTTP answer), else ``error`` ('refused', 'timeout' or a reason)."""

    url: str
    status: int | None = None
    error: str = ""
    emulator: bool = False  # it answered as the TikTok emulator's control API


def probe(url: str, session, *, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """A HEAD of ``url`` (redirects not followed): any HTTP answer means it is reachable."""
    import requests

    try:
        return Probe(url, status=session.head(url, timeout=timeout, allow_redirects=False).status_code)
    except requests.ConnectTimeout:
        return Probe(url, error="timeout")
    except requests.ConnectionError as exc:
        return Probe(url, error="timeout" if "timed out" in str(exc) else "refused")
    except requests.Timeout:
        return Probe(url, error="timeout")
    except requests.RequestException as exc:
        return Probe(url, error=type(exc).__name__)


def emulator_probe(api_base: str, session, *, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """GET the emulator's control API clock at ``api_base``: JSON there means the TikTok emulator answers."""
    import requests

    url = api_base.rstrip("/") + "/_emulator/clock"
    try:
        response = session.get(url, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return Probe(api_base, error="timeout")
    except requests.ConnectionError as exc:
        return Probe(api_base, error="timeout" if "timed out" in str(exc) else "refused")
    except requests.RequestException as exc:
        return Probe(api_base, error=type(exc).__name__)
    try:
        answered = response.status_code == 200 and isinstance(response.json(), dict)
    except ValueError:
        answered = False
    return Probe(api_base, status=response.status_code, emulator=answered)


def emulator(settings: Settings, seen: Probe) -> Check:
    """In emulated mode, the emulator at the address the settings give (named), or why not."""
    t = settings.tiktok
    base = t.api_base
    if seen.emulator:
        return Check("emulator", OK, f"The TikTok emulator answers at {base}.")
    if t.embedded_emulator:
        move = (f"stop that program, or give the emulator another port: python -m tiktok app --emulator-port "
                f"<free port>, or TIKTOK_EMULATOR_PORT=<free port> in .env (now {t.emulator_port}).")
        if seen.error == "refused":
            return Check("emulator", NOTE, f"Nothing answers at {base} yet: the app starts the TikTok emulator there "
                         "(python -m tiktok app); the other commands reach it while the app runs.")
        how = "did not answer in time" if seen.error else f"answered HTTP {seen.status}, not as the TikTok emulator"
        return Check("emulator", PROBLEM, f"The emulator's port is busy: another program holds {base} "
                     f"(TIKTOK_EMULATOR_PORT {t.emulator_port}) and {how}; the app cannot start the emulator "
                     "there.", move)
    how = ("nothing answers there" if seen.error == "refused" else "it did not answer in time" if seen.error
           else f"it answered HTTP {seen.status}, not as the TikTok emulator")
    return Check("emulator", PROBLEM, f"TIKTOK_API_BASE {base} is not the TikTok emulator: {how}.",
                 "start the emulator there (python -m tiktok.emulator --port <port>) or point TIKTOK_API_BASE at "
                 "the one running.")


def media_address(name: str, setting: str, seen: Probe) -> Check:
    """A media address TikTok pulls from (MEDIA_PUBLIC_URL, a verified prefix): any HTTP answer is reachable."""
    if seen.status is not None:
        return Check(name, OK, f"{setting} {seen.url} is reachable (HTTP {seen.status}).")
    how = "did not answer within 3 s" if seen.error == "timeout" else f"could not be reached ({seen.error})"
    return Check(name, PROBLEM, f"{setting} {seen.url} {how}: TikTok cannot pull videos from it either.",
                 f"check that the server behind {seen.url} is up and public, or correct {setting} in .env.")


def prefix_url(prefix: str) -> str:
    """A verified property as an address to probe: a URL prefix as given, a domain as https://domain/."""
    return prefix if "://" in prefix else f"https://{prefix.strip('/')}/"


# -- the app's mode and each account's privacy (issue 25) ------------------------------------------------------------

PRIVATE_SIGN = "FOLLOWER_OF_CREATOR"  # creator_info offers it only to a private account (tiktok.posting.policy)
MODE_SAYS = {"sandbox": "only the target users added in TikTok's developer portal can log in",
             "unaudited": 'Direct Post only as "Only me" (SELF_ONLY) from private accounts, 5 posting accounts a '
                          "day; inbox drafts publish publicly",
             "audited": "every privacy level each account offers"}


def app_mode(mode: Any) -> Check:
    """The mode in force (``tiktok.posting.policy.AppMode``: ``mode``, ``source``, ``code``) and where it came
    from: TIKTOK_APP_MODE, TikTok's answer that showed it, or unknown (a note saying how to set it)."""
    if mode.mode is None:
        return Check("app_mode", NOTE, "The TikTok app's mode is unknown: TIKTOK_APP_MODE is not set and TikTok has "
                     "not refused anything that shows it; every privacy level is offered, as for an audited app. Set "
                     "TIKTOK_APP_MODE to sandbox, unaudited or audited in .env (your app's page in TikTok's "
                     "developer portal shows which).")
    how = "TIKTOK_APP_MODE" if mode.source == "setting" else f"detected: TikTok answered {mode.code}"
    return Check("app_mode", OK, f"The TikTok app is {mode.mode} ({how}): {MODE_SAYS.get(mode.mode, '')}.")


def account_privacy(account: Any, options: Any, why: str = "") -> Check:
    """For an unaudited app: ``account``'s privacy from creator_info's ``privacy_level_options`` (private when it
    offers FOLLOWER_OF_CREATOR, reference 3.1); ``options`` None with ``why`` when creator_info gave no answer."""
    name, check = account_name(account), f"privacy:{account.open_id}"
    if options is None:
        return Check(check, NOTE, f"{name}'s privacy was not checked: {why}.")
    if PRIVATE_SIGN in options:
        return Check(check, OK, f"{name} is private: an unaudited app may Direct Post to it as \"Only me\".")
    return Check(check, PROBLEM, f"{name} is public: unaudited apps may Direct Post only to private accounts.",
                 f"make {name} private in the TikTok app (Settings and privacy > Privacy > Private account), or "
                 "post drafts to its inbox.")


# -- each account's caps and the app's posting accounts (issue 25) -------------------------------------------------

@dataclass(frozen=True)
class Usage:
    """What the store saw in the last 24 hours: each account's budget (``tiktok.posting.budget.Budget`` by open_id:
    its Direct Posts and inbox drafts against TikTok's caps) and, for an unaudited app, the accounts that posted
    through it (``posting_users``; None otherwise) against its cap (``user_cap``: tiktok.posting.policy's 5). The
    doctor and the Setup page read them from the store."""

    budgets: dict[str, Any]
    posting_users: set[str] | None
    user_cap: int


def account_caps(account: Any, budget: Any) -> Check:
    """``account``'s attempts of the last 24 hours against TikTok's per-creator caps (reference section 7: about 15
    Direct Posts, ``spam_risk_too_many_posts``; 5 pending inbox drafts, ``spam_risk_too_many_pending_share``), as
    ``budget`` (tiktok.posting.budget.Budget) counts them."""
    name, check = account_name(account), f"caps:{account.open_id}"
    counted = "; ".join(f"{cap.used} of {cap.limit} {cap.name}" for cap in (budget.direct, budget.drafts))
    said = f"{name} made {counted} in the last 24 hours (counted by this tool)"
    full = [cap for cap in (budget.direct, budget.drafts) if cap.room_at is not None]
    if full:
        return Check(check, PROBLEM, f"{said}: TikTok refuses more {' and '.join(c.name for c in full)} for now.",
                     "wait: room comes back as each attempt turns a day old; posts due meanwhile wait and go then.")
    return Check(check, OK, f"{said}.")


def posting_users(users: set[str], cap: int) -> Check:
    """An unaudited app's accounts that posted in the last 24 hours against its 5 (reference section 7 and 8.3:
    over it TikTok answers ``reached_active_user_cap``)."""
    said = f"{len(users)} of the {cap} accounts an unaudited app may post from in 24 hours posted through this tool"
    if len(users) >= cap:
        return Check("posting_users", PROBLEM, f"{said}: a further account's Direct Post is stopped before it is "
                     "sent.", "post from one of those accounts, send drafts to the inbox, or wait a day.")
    return Check("posting_users", OK, f"{said}.")


# -- every check ----------------------------------------------------------------------------------------------------

def gather(settings: Settings, *, accounts: dict, now: float, session, mode: Any,
           creator_options=None, usage: Usage | None = None) -> list[Check]:
    """Every check, in the order a person fixes them: the app, the accounts, the files, the addresses. The callers
    (``python -m tiktok doctor``, the Setup page) bring what lies above plumbing: the linked ``accounts``, the app's
    ``mode`` in force and ``creator_options(open_id) -> (privacy_level_options, None) or (None, why)``, asked only
    when the mode is unaudited, and the store's ``usage`` of the last 24 hours (None: no store yet)."""
    checks = [credentials(settings), redirect_uri(settings), scopes_asked(settings), app_mode(mode)]
    if settings.tiktok.emulated:
        checks.append(emulator(settings, emulator_probe(settings.tiktok.api_base, session)))
    unaudited = mode.mode == "unaudited"
    for account in sorted(accounts.values(), key=lambda a: (account_name(a), a.open_id)):
        if account.emulated != settings.tiktok.emulated:
            checks.append(elsewhere(account))
            continue
        checks += [account_scopes(account, settings), account_grant(account, now)]
        if unaudited and creator_options is not None:
            checks.append(account_privacy(account, *creator_options(account.open_id)))
        if usage is not None and account.open_id in usage.budgets:
            checks.append(account_caps(account, usage.budgets[account.open_id]))
    if usage is not None and usage.posting_users is not None:
        checks.append(posting_users(usage.posting_users, usage.user_cap))
    if not accounts:
        checks.append(Check("accounts", NOTE, "No account is linked yet: open the app and use Login with TikTok."))
    if settings.store.database_url:
        checks.append(Check("files", NOTE, "Accounts and posts are kept in the database (DATABASE_URL): no token "
                            "file or SQLite store to check."))
    else:
        for name, what, path in (("token_file", "token file", settings.tokens_path),
                                 ("store_file", "SQLite store", settings.store_path)):
            checks.append(file_mode(name, what, path.absolute(), mode_of(path)))
    media = settings.media
    if media.public_url:
        checks.append(media_address("media_public_url", "MEDIA_PUBLIC_URL", probe(media.public_url, session)))
    for prefix in media.verified_prefixes:
        checks.append(media_address(f"verified:{prefix}", "VERIFIED_URL_PREFIXES",
                                    probe(prefix_url(prefix), session)))
    if not media.public_url and not media.verified_prefixes:
        checks.append(Check("media", NOTE, "MEDIA_PUBLIC_URL and VERIFIED_URL_PREFIXES are not set: videos are sent "
                            "from this machine, and no address of yours has to be reachable."))
    return checks
