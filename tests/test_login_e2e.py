"""Log in with TikTok end to end: the app and the emulator both on 127.0.0.1, driven over real HTTP."""

from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.auth.oauth import OAuthClient
from tiktok.errors import OAuthError
from tiktok.auth.tokens import TokenStore
from tiktok.web.flows import LoginFlows
from tests.support.flows import consent

ADA, BO, CY = (u.open_id for u in default_users())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stored(app_under_test) -> dict:
    return TokenStore(app_under_test.tokens_path).load()


def test_login_lists_the_account_and_saves_private_tokens(app_under_test, web, remote, emulator):
    response = web.login(open_id=ADA)
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    page = web.get("/")
    assert "Ada Creator" in page.text and "@ada.creates" in page.text
    assert "EMULATED" in page.text  # the API base is not TikTok's, so every page says so
    assert stat.S_IMODE(os.stat(app_under_test.tokens_path).st_mode) == 0o600
    account = stored(app_under_test)[ADA]
    assert account.emulated and account.display_name == "Ada Creator"
    assert account.avatar_url.startswith(emulator.url + "/")
    assert set(account.scopes) >= {"user.info.basic", "video.publish"}
    # Expiry is absolute, computed from TikTok's expires_in (7200 s) and refresh_expires_in (180 days).
    assert abs(account.expires_at - (time.time() + 7200)) < 60
    assert abs(account.refresh_expires_at - (time.time() + 15_552_000)) < 60
    grant = next(g for g in remote.state()["tokens"]["grants"] if g["open_id"] == ADA)
    assert grant["refresh_token_sha256"] == sha256(account.refresh_token)


def test_two_accounts_are_listed_side_by_side(app_under_test, web):
    web.login(open_id=ADA)
    web.login(open_id=BO)
    page = web.get("/").text
    assert "Ada Creator" in page and "Bo Sandbox" in page
    assert set(stored(app_under_test)) == {ADA, BO}


def test_unticked_scope_is_not_recorded(app_under_test, web):
    web.login(open_id=ADA, drop_scopes=("video.publish",))
    assert "video.publish" not in stored(app_under_test)[ADA].scopes


def test_denied_consent_shows_a_clear_page_and_saves_nothing(app_under_test, web):
    response = web.login(open_id=ADA, decision="deny")
    assert response.status_code == 403
    assert "Login cancelled" in response.text and "Nothing was saved" in response.text
    assert not app_under_test.tokens_path.exists()


def test_replayed_callback_is_refused_and_changes_nothing(app_under_test, web):
    authorize_url = web.start_login()
    callback = consent(authorize_url, open_id=ADA).headers["Location"]
    assert web.get(callback, allow_redirects=False).status_code == 302
    before = app_under_test.tokens_path.read_bytes()
    replay = web.get(callback, allow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    assert app_under_test.tokens_path.read_bytes() == before


def test_expired_state_is_refused(app_under_test, web):
    authorize_url = web.start_login()
    callback = consent(authorize_url, open_id=ADA).headers["Location"]
    app_under_test.clock.advance(601)  # the login took more than 10 minutes
    response = web.get(callback, allow_redirects=False)
    assert response.status_code == 400 and "longer than 10 minutes" in response.text
    assert not app_under_test.tokens_path.exists()


@pytest.mark.parametrize("tamper, expected", [
    (lambda q: q.replace("state=", "state=x"), "does not match"),
    (lambda q: "&".join(p for p in q.split("&") if not p.startswith("state=")), "no state"),
])
def test_mismatched_or_missing_state_is_refused(app_under_test, web, tamper, expected):
    authorize_url = web.start_login()
    callback = consent(authorize_url, open_id=ADA).headers["Location"]
    base, query = callback.split("?", 1)
    response = web.get(base + "?" + tamper(query), allow_redirects=False)
    assert response.status_code == 400 and expected in response.text
    assert not app_under_test.tokens_path.exists()


def test_callback_from_another_browser_is_refused(app_under_test, web):
    authorize_url = web.start_login()
    callback = consent(authorize_url, open_id=ADA).headers["Location"]
    stranger = app_under_test.client()  # no login in progress in this browser
    response = stranger.get(callback, allow_redirects=False)
    assert response.status_code == 400 and "no login in progress" in response.text
    assert not app_under_test.tokens_path.exists()


def test_a_second_login_in_the_same_browser_does_not_spoil_the_first(app_under_test, web):
    first = web.start_login()
    second = web.start_login()  # another tab, or any page requesting /login/ with this browser's cookie
    assert web.get(consent(first, open_id=ADA).headers["Location"], allow_redirects=False).status_code == 302
    assert web.get(consent(second, open_id=BO).headers["Location"], allow_redirects=False).status_code == 302
    assert set(stored(app_under_test)) == {ADA, BO}


def test_when_too_many_logins_are_in_progress_a_new_one_waits_and_the_others_finish(app_under_test, web):
    app_under_test.flask_app.extensions["tiktok_login_flows"] = LoginFlows(clock=app_under_test.clock, limit=1)
    first = web.start_login()
    refused = app_under_test.client().get("/login/", allow_redirects=False)
    assert refused.status_code == 503 and "try again in a few minutes" in refused.text
    assert web.get(consent(first, open_id=ADA).headers["Location"], allow_redirects=False).status_code == 302
    assert app_under_test.client().get("/login/", allow_redirects=False).status_code == 302  # room again


@pytest.mark.parametrize("fault, shown", [
    (dict(status=503, error="temporarily_unavailable", message="try later"), "temporarily_unavailable"),
    (dict(status=200, error="invalid_client", message="bad key"), "invalid_client"),  # TikTok's HTTP-200 errors
    (dict(drop=True), "did not issue tokens"),
])
def test_token_endpoint_errors_show_a_page_and_save_nothing(app_under_test, web, remote, fault, shown):
    remote.inject_fault("/v2/oauth/token/", **fault)
    response = web.login(open_id=ADA)
    assert response.status_code == 400 and shown in response.text and "Nothing was saved" in response.text
    assert not app_under_test.tokens_path.exists()


def test_base64url_challenge_fails_against_tiktoks_hex_check(serve_app):
    served = serve_app(TIKTOK_PKCE_ENCODING="base64url")
    response = served.client().login(open_id=ADA)
    assert response.status_code == 400 and "Code verifier or code challenge is invalid" in response.text
    assert not served.tokens_path.exists()


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(pkce_encoding="base64url")])
def test_base64url_works_where_the_server_uses_rfc7636(serve_app):
    served = serve_app(TIKTOK_PKCE_ENCODING="base64url")
    assert served.client().login(open_id=ADA).status_code == 302
    assert ADA in stored(served)


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(sandbox_targets=[BO])])
def test_sandbox_refuses_users_who_are_not_targets(app_under_test, web):
    response = web.login(open_id=ADA)
    assert response.status_code == 400 and "non_sandbox_target" in response.text
    assert not app_under_test.tokens_path.exists()
    assert web.login(open_id=BO).status_code == 302
    assert set(stored(app_under_test)) == {BO}


def test_refresh_tokens_page_rotates_and_keeps_the_new_refresh_token(app_under_test, web, remote, emulator):
    web.login(open_id=ADA)
    old = stored(app_under_test)[ADA]
    page = web.post_form("/refresh_tokens/")
    assert page.status_code == 200 and "refreshed" in page.text
    new = stored(app_under_test)[ADA]
    assert new.refresh_token != old.refresh_token and new.access_token != old.access_token
    grant = next(g for g in remote.state()["tokens"]["grants"] if g["open_id"] == ADA)
    assert grant["refresh_token_sha256"] == sha256(new.refresh_token) and grant["rotations"] == 1
    oauth = OAuthClient(__import__("requests").Session(), api_base=emulator.url,
                        client_key=emulator.config.client_key, client_secret=emulator.config.client_secret)
    with pytest.raises(OAuthError) as err:
        oauth.refresh(old.refresh_token)  # rotated away: TikTok kills it at once
    assert err.value.error == "invalid_grant"


@pytest.mark.slow
def test_refresh_page_reports_an_account_that_needs_relinking(app_under_test, web, remote):
    web.login(open_id=ADA)
    web.login(open_id=BO)
    remote.revoke_user(ADA)  # Ada removed the app in TikTok's settings
    page = web.post_form("/refresh_tokens/").text
    assert "relink" in page and "refreshed" in page
    assert stored(app_under_test)[ADA].relink_reason
    assert "Relink needed" in web.get("/").text


def test_relink_replaces_the_accounts_tokens(app_under_test, web, remote):
    web.login(open_id=ADA)
    before = stored(app_under_test)[ADA]
    authorize_url = web.start_login(f"/accounts/{ADA}/relink")
    redirect = consent(authorize_url, open_id=ADA)
    assert web.get(redirect.headers["Location"], allow_redirects=False).status_code == 302
    after = stored(app_under_test)
    assert list(after) == [ADA]
    assert after[ADA].access_token != before.access_token and after[ADA].refresh_token != before.refresh_token


def test_relink_clears_a_relink_warning(app_under_test, web, remote):
    web.login(open_id=ADA)
    remote.revoke_user(ADA)
    web.post_form("/refresh_tokens/")
    assert stored(app_under_test)[ADA].relink_reason
    page = web.get("/").text  # the reason in plain words first, TikTok's code apart
    assert "Relink needed: TikTok no longer accepts" in page and "Details: code invalid_grant" in page, page
    authorize_url = web.start_login(f"/accounts/{ADA}/relink")
    web.get(consent(authorize_url, open_id=ADA).headers["Location"], allow_redirects=False)
    assert stored(app_under_test)[ADA].relink_reason == ""
    assert "Relink needed" not in web.get("/").text


@pytest.mark.slow
def test_remove_revokes_at_tiktok_then_deletes_locally(app_under_test, web, remote, emulator):
    web.login(open_id=ADA)
    web.login(open_id=BO)
    access_token = stored(app_under_test)[ADA].access_token
    response = web.post_form(f"/accounts/{ADA}/remove", allow_redirects=False)
    assert response.status_code == 302
    assert set(stored(app_under_test)) == {BO}
    state = remote.state()["tokens"]
    assert state["revoked"] >= 1
    assert next(g for g in state["grants"] if g["open_id"] == ADA)["status"] == "revoked"
    api = __import__("requests").get(emulator.url + "/v2/user/info/", params={"fields": "open_id"},
                                     headers={"Authorization": f"Bearer {access_token}"}, timeout=5)
    assert api.status_code == 401 and api.json()["error"]["code"] == "access_token_invalid"


def test_remove_keeps_the_account_when_tiktok_cannot_be_reached(app_under_test, web, remote):
    web.login(open_id=ADA)
    remote.inject_fault("/v2/oauth/revoke/", drop=True)
    response = web.post_form(f"/accounts/{ADA}/remove")
    assert response.status_code == 502 and "kept" in response.text
    assert ADA in stored(app_under_test)


def test_forms_without_the_csrf_token_are_refused(app_under_test, web):
    web.login(open_id=ADA)
    response = web.http.post(web.url + f"/accounts/{ADA}/remove", data={}, timeout=5)
    assert response.status_code == 400
    assert ADA in stored(app_under_test)


def test_accounts_page_warns_before_the_refresh_token_runs_out(app_under_test, web):
    web.login(open_id=ADA)
    assert "Relink needed" not in web.get("/").text
    app_under_test.clock.advance(155 * 86400)  # 25 days left of 180
    assert "Relink needed soon" in web.get("/").text
    app_under_test.clock.advance(30 * 86400)
    assert "Relink needed: the refresh token has expired" in web.get("/").text


def test_corrupt_token_file_is_reported_and_left_alone(app_under_test, web):
    app_under_test.tokens_path.write_text('{"version": 1, "accounts": {')
    page = web.get("/")
    assert page.status_code == 500 and str(app_under_test.tokens_path) in page.text
    response = web.login(open_id=ADA)
    assert response.status_code == 500
    assert app_under_test.tokens_path.read_text() == '{"version": 1, "accounts": {'


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(client_secret="cs-" + os.urandom(12).hex())])
def test_no_token_or_secret_reaches_pages_or_logs(app_under_test, web, remote, caplog):
    caplog.set_level("DEBUG")
    web.login(open_id=ADA)
    first = stored(app_under_test)[ADA]
    web.post_form("/refresh_tokens/")
    second = stored(app_under_test)[ADA]
    remote.inject_fault("/v2/oauth/token/", status=503, error="temporarily_unavailable")
    web.post_form("/refresh_tokens/")
    web.post_form(f"/accounts/{ADA}/remove")
    secrets_seen = [first.access_token, first.refresh_token, second.access_token, second.refresh_token,
                    app_under_test.flask_app.extensions["tiktok_services"].settings.client_secret]
    logs = caplog.text
    pages = "\n".join(web.pages)
    assert pages and logs
    for index, secret in enumerate(secrets_seen):
        assert secret not in logs, f"secret #{index} appeared in the logs"
        assert secret not in pages, f"secret #{index} appeared in a page"
    assert "code=***" in logs or "code=" not in logs  # the callback's code is masked in access logs
