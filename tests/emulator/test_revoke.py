"""Revocation by the app (``/v2/oauth/revoke/``) and by the user (control API)."""

from __future__ import annotations

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"


def test_revoke_kills_access_and_refresh_tokens(walker, remote):
    body = walker.login()
    assert walker.user_info(body["access_token"]).status_code == 200
    response = walker.revoke(body["access_token"])
    assert (response.status_code, response.json()) == (200, {})
    api = walker.user_info(body["access_token"])
    assert api.status_code == 401 and api.json()["error"]["code"] == "access_token_invalid"
    refresh = walker.refresh(body["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    tokens = remote.state()["tokens"]
    assert tokens["revoked"] == 1 and tokens["grants"][0]["status"] == "revoked"
    assert tokens["grants"][0]["access_tokens_live"] == 0


def test_revoke_accepts_an_expired_access_token(walker, remote):
    body = walker.login()
    remote.advance_clock(7200)
    assert walker.revoke(body["access_token"]).status_code == 200
    assert walker.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_refusals(walker):
    body = walker.login()
    bad_client = walker.revoke(body["access_token"], client_secret="wrong")
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    unknown = walker.revoke("act.unknown")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    refresh_token = walker.revoke(body["refresh_token"])  # only access tokens are accepted
    assert refresh_token.status_code == 400
    as_json = walker.http.post(walker.url + "/v2/oauth/revoke/", json={"token": body["access_token"]}, timeout=10)
    assert as_json.status_code == 400 and as_json.json()["error_description"] == "The request parameters are malformed."
    assert walker.user_info(body["access_token"]).status_code == 200  # none of those revoked anything


def test_user_removing_the_app_revokes_all_their_grants(walker, remote):
    first, second = walker.login(), walker.login()
    other = walker.login(open_id="0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68")
    assert remote.revoke_user(ADA) == 2
    for body in (first, second):
        assert walker.user_info(body["access_token"]).status_code == 401
        assert walker.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"
    assert walker.user_info(other["access_token"]).status_code == 200
    statuses = sorted(g["status"] for g in remote.state()["tokens"]["grants"])
    assert statuses == ["active", "revoked", "revoked"]
