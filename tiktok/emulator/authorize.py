"""The browser authorization page ``/v2/auth/authorize/`` (reference §1).

GET validates the query and shows a consent page; the consent form POSTs back here and everything is validated
again from scratch (hidden fields are never trusted). Misconfiguration never redirects: it renders TikTok's
"Something went wrong ... correct the following: <param>" page with HTTP 400, checking in this order:
client_key, response_type, redirect_uri, scope, then PKCE (required for loopback redirect URIs, optional for https
web ones; the challenge must be 43-128 unreserved characters, so hex and base64url both pass here).

Choices (UNCONFIRMED upstream):
- A sandbox app (``config.app_mode == "sandbox"``) refuses users outside its targets (``config.targets``) by
  redirecting with ``error=non_sandbox_target`` and no code. The error name is observed (reference 1.5, 8.2, point
  33); whether TikTok redirects or shows its error page is not known. The redirect (reference 1.6: ``error`` is set
  "when the user is not eligible") lets the client explain the refusal; the misconfiguration page is kept for the
  app's own parameters, which the user cannot fix.
- ``user.info.basic`` cannot be unticked; if the user unticks every other scope and basic was not requested, the
  answer is ``error=access_denied``.
- ``disable_auto_auth`` is accepted and ignored: the emulator always shows the consent page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request

from .config import EmulatorConfig
from .envelope import current_state
from .pkce import is_valid_pkce_value
from .redirects import is_loopback_uri, is_registered

bp = Blueprint("authorize", __name__)

BASIC_SCOPE = "user.info.basic"  # Login Kit adds it by default; users cannot untick it
PASSED_PARAMS = ("client_key", "response_type", "scope", "redirect_uri", "state", "code_challenge",
                 "code_challenge_method", "disable_auto_auth")


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorization request."""

    client_key: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None


@dataclass(frozen=True)
class AuthorizeProblem:
    """Why the request cannot be shown: the parameter to name and a detail line."""

    param: str
    detail: str


def _parse_scopes(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(raw.split(","))) if raw else ()


def _check_pkce(params: Mapping[str, str], redirect_uri: str) -> AuthorizeProblem | None:
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None and method is None and not is_loopback_uri(redirect_uri):
        return None  # web redirect URIs: PKCE optional
    if not is_valid_pkce_value(challenge):
        return AuthorizeProblem("code_challenge", "a code_challenge of 43-128 unreserved characters is required")
    if method != "S256":
        return AuthorizeProblem("code_challenge_method", "code_challenge_method must be S256")
    return None


def validate_authorize(params: Mapping[str, str], config: EmulatorConfig) -> AuthorizeRequest | AuthorizeProblem:
    """Check an authorize request in TikTok's order; return the request or the first problem."""
    if params.get("client_key") != config.client_key:
        return AuthorizeProblem("client_key", "unknown client_key")
    if params.get("response_type") != "code":
        return AuthorizeProblem("response_type", "response_type must be code")
    redirect_uri = params.get("redirect_uri", "")
    if not is_registered(redirect_uri, config.redirect_uris):
        return AuthorizeProblem("redirect_uri", "redirect_uri is not registered for this app")
    scopes = _parse_scopes(params.get("scope", ""))
    if not scopes:
        return AuthorizeProblem("scope", "scope is required")
    for scope in scopes:
        if scope not in config.approved_scopes:
            return AuthorizeProblem("scope", f"scope {scope!r} is unknown or not approved for this app")
    problem = _check_pkce(params, redirect_uri)
    if problem:
        return problem
    return AuthorizeRequest(config.client_key, redirect_uri, scopes, params.get("state"),
                            params.get("code_challenge"))


def callback_url(redirect_uri: str, params: dict[str, str], state: str | None) -> str:
    """``redirect_uri`` plus form-encoded params (``*``, ``!`` and ``,`` percent-encoded) and state if sent."""
    if state is not None:
        params = {**params, "state": state}
    return redirect_uri + "?" + urlencode(params)


def granted_scopes(requested: tuple[str, ...], ticked: list[str]) -> tuple[str, ...]:
    """Requested scopes the user left ticked; basic is always kept when requested."""
    return tuple(s for s in requested if s == BASIC_SCOPE or s in ticked)


def _error_page(problem: AuthorizeProblem):
    return render_template("authorize_error.html", problem=problem), 400


@bp.get("/v2/auth/authorize/")
def authorize_page():
    config = current_state().config
    result = validate_authorize(request.args, config)
    if isinstance(result, AuthorizeProblem):
        return _error_page(result)
    hidden = {name: request.args[name] for name in PASSED_PARAMS if name in request.args}
    return render_template("authorize.html", app_name=config.app_name, req=result, hidden=hidden,
                           users=config.users, basic_scope=BASIC_SCOPE)


@bp.post("/v2/auth/authorize/")
def authorize_decision():
    state = current_state()
    result = validate_authorize(request.form, state.config)
    if isinstance(result, AuthorizeProblem):
        return _error_page(result)
    decision = request.form.get("decision")
    if decision not in ("authorize", "deny"):
        return _error_page(AuthorizeProblem("decision", "decision must be authorize or deny"))
    if decision == "deny":
        return _refuse(result, "access_denied", "The user denied the authorization request.")
    user = state.user(request.form.get("open_id", ""))
    if user is None:
        return _error_page(AuthorizeProblem("open_id", "choose one of the emulated users"))
    targets = state.config.targets
    if targets is not None and user.open_id not in targets:
        return _refuse(result, "non_sandbox_target", "This account is not a target user of the sandbox app.")
    scopes = granted_scopes(result.scopes, request.form.getlist("scope_grant"))
    if not scopes:
        return _refuse(result, "access_denied", "The user granted no scopes.")
    with state.lock:
        code = state.tokens.issue_code(client_key=result.client_key, redirect_uri=result.redirect_uri,
                                       scopes=scopes, code_challenge=result.code_challenge,
                                       open_id=user.open_id, now=state.now())
    return redirect(callback_url(result.redirect_uri, {"code": code, "scopes": ",".join(scopes)}, result.state))


def _refuse(req: AuthorizeRequest, error: str, description: str):
    params = {"error": error, "error_description": description}
    return redirect(callback_url(req.redirect_uri, params, req.state))
