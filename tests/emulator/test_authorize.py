"""The authorization page: error pages, consent form, denial, sandbox refusal and the callback."""

from __future__ import annotations

import pytest
from tests.emulator.emulator_helpers import REDIRECT_URI, OAuthWalker, browser_submit, parse_form

BANNER = "TikTok emulator - nothing here reaches TikTok"
OPEN_IDS = ("723f24d7-e717-40f8-a2b6-cb8464cd23b4", "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68",
            "e51a7d90-2c4b-4b6f-9e03-8a1d5c7f2b49")


@pytest.mark.parametrize("overrides, param", [
    ({"client_key": "nope"}, "client_key"),
    ({"client_key": None}, "client_key"),
    ({"response_type": "token"}, "response_type"),
    ({"response_type": None}, "response_type"),
    ({"redirect_uri": "http://127.0.0.1:8765/other/"}, "redirect_uri"),
    ({"redirect_uri": "http://127.0.0.1:8765/callback"}, "redirect_uri"),
    ({"redirect_uri": "http://[::1]:8765/callback/"}, "redirect_uri"),
    ({"redirect_uri": "https://evil.example/callback/"}, "redirect_uri"),
    ({"redirect_uri": None}, "redirect_uri"),
    ({"scope": ""}, "scope"),
    ({"scope": "user.info.basic,video.delete"}, "scope"),
    ({"scope": "user.info.basic video.list"}, "scope"),
    ({"code_challenge": None}, "code_challenge"),
    ({"code_challenge": "short"}, "code_challenge"),
    ({"code_challenge": "a" * 63 + "+"}, "code_challenge"),
    ({"code_challenge_method": None}, "code_challenge_method"),
    ({"code_challenge_method": "plain"}, "code_challenge_method"),
])
def test_bad_authorize_request_shows_error_page(walker, overrides, param):
    response = walker.authorize_page(walker.params(**overrides))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Something went wrong" in response.text and BANNER in response.text
    assert f'<code id="error-param">{param}</code>' in response.text


def test_unapproved_scope_is_named(make_emulator):
    walker = OAuthWalker(make_emulator(approved_scopes=["user.info.basic"]))
    response = walker.authorize_page(walker.params(scope="user.info.basic,video.publish"))
    assert response.status_code == 400
    assert "video.publish" in response.text


def test_checks_run_in_tiktok_order(walker):
    params = walker.params(client_key="nope", response_type="token", scope="")
    assert '<code id="error-param">client_key</code>' in walker.authorize_page(params).text


def test_both_challenge_shapes_pass_the_authorize_page(walker):
    hex_page = walker.authorize_page(walker.params(code_challenge="ab" * 32))
    b64_page = walker.authorize_page(walker.params(code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
    assert hex_page.status_code == b64_page.status_code == 200


def test_web_redirect_uri_does_not_need_pkce(make_emulator):
    web_uri = "https://tool.example.com/auth/callback/"
    walker = OAuthWalker(make_emulator(redirect_uris=[web_uri]))
    params = walker.params(redirect_uri=web_uri, code_challenge=None, code_challenge_method=None)
    callback = walker.consent(params)
    assert callback.base == web_uri and "code" in callback.query
    assert walker.exchange(callback.query["code"], redirect_uri=web_uri, code_verifier=None).status_code == 200


def test_consent_page_lists_scopes_users_and_buttons(walker):
    page = walker.authorize_page(walker.params(scope="user.info.basic,video.list"))
    assert page.status_code == 200 and BANNER in page.text
    assert "TikTok Tool (emulated)" in page.text
    form = parse_form(page.text)
    scopes = {i["value"]: i for i in form.inputs if i.get("name") == "scope_grant"}
    assert set(scopes) == {"user.info.basic", "video.list"}
    assert all("checked" in i for i in scopes.values())
    assert "disabled" in scopes["user.info.basic"] and "disabled" not in scopes["video.list"]
    radios = [i for i in form.inputs if i.get("type") == "radio" and i.get("name") == "open_id"]
    assert tuple(r["value"] for r in radios) == OPEN_IDS
    assert "checked" in radios[0] and "checked" not in radios[1]
    assert "@ada.creates" in page.text
    assert {(b["id"], b["name"], b["value"]) for b in form.buttons} == {
        ("authorize", "decision", "authorize"), ("deny", "decision", "deny")}
    assert form.action == "/v2/auth/authorize/"


def test_deny_redirects_with_access_denied_and_state(walker):
    params = walker.params()
    callback = walker.consent(params, button="deny")
    assert callback.base == REDIRECT_URI
    assert callback.query["error"] == "access_denied"
    assert callback.query["error_description"]
    assert callback.query["state"] == params["state"]
    assert "code" not in callback.query


def test_authorize_redirects_with_encoded_code_scopes_and_state(walker):
    params = walker.params(scope="user.info.basic,video.list,video.publish")
    callback = walker.consent(params, untick=("video.list",))
    assert callback.query["scopes"] == "user.info.basic,video.publish"
    assert callback.query["state"] == params["state"]
    code = callback.query["code"]
    assert "*0!" in code and code.endswith(".u1")
    raw_query = callback.location.split("?", 1)[1]
    assert "%2A0%21" in raw_query and "scopes=user.info.basic%2Cvideo.publish" in raw_query


def test_state_is_omitted_when_not_sent(walker):
    callback = walker.consent(walker.params(state=None))
    assert "state" not in callback.query and "code" in callback.query


def test_loopback_wildcard_port_redirects_to_the_requested_port(walker):
    uri = "http://localhost:51234/callback/"
    callback = walker.consent(walker.params(redirect_uri=uri))
    assert callback.base == uri


def test_sandbox_refuses_non_target_users(make_emulator):
    walker = OAuthWalker(make_emulator(sandbox_targets=[OPEN_IDS[1]]))
    params = walker.params()
    refused = walker.consent(params, open_id=OPEN_IDS[0])
    assert refused.query["error"] == "non_sandbox_target" and refused.query["state"] == params["state"]
    allowed = walker.consent(walker.params(), open_id=OPEN_IDS[1])
    assert "code" in allowed.query


def test_post_revalidates_hidden_fields(walker):
    page = walker.authorize_page(walker.params())
    fields = browser_submit(parse_form(page.text), "authorize")
    tampered = [(k, "https://evil.example/cb/" if k == "redirect_uri" else v) for k, v in fields]
    response = walker.http.post(walker.url + "/v2/auth/authorize/", data=tampered,
                                       allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers
    assert '<code id="error-param">redirect_uri</code>' in response.text


def test_post_with_unknown_user_is_refused(walker):
    page = walker.authorize_page(walker.params())
    fields = [(k, "someone-else" if k == "open_id" else v)
              for k, v in browser_submit(parse_form(page.text), "authorize")]
    response = walker.http.post(walker.url + "/v2/auth/authorize/", data=fields,
                                       allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "open_id" in response.text


def test_unticking_everything_but_unrequested_basic_is_a_denial(walker):
    callback = walker.consent(walker.params(scope="video.list"), untick=("video.list",))
    assert callback.query["error"] == "access_denied"


def test_no_cookie_is_set(walker):
    page = walker.authorize_page(walker.params())
    assert "Set-Cookie" not in page.headers
