"""``/v2/user/info/``: field selection, scope rules, bearer checks, the rate limit and the avatar."""

from __future__ import annotations

import pytest
import requests

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
ALL_SCOPES = "user.info.basic,user.info.profile,user.info.stats"


def envelope_error(response) -> dict:
    body = response.json()
    assert set(body) == {"data", "error"} and body["data"] == {}
    assert len(body["error"]["log_id"]) == 32
    return body["error"]


def test_returns_only_requested_fields(walker):
    token = walker.login(scope=ALL_SCOPES)["access_token"]
    response = walker.user_info(token, "open_id,display_name,username,follower_count,is_verified")
    body = response.json()
    assert response.status_code == 200
    assert body["error"]["code"] == "ok" and body["error"]["message"] == ""
    assert body["data"]["user"] == {"open_id": ADA, "display_name": "Ada Creator", "username": "ada.creates",
                                    "follower_count": 15230, "is_verified": True}


def test_avatar_urls_point_at_the_emulator(walker):
    token = walker.login()["access_token"]
    user = walker.user_info(token, "avatar_url,avatar_url_100,avatar_large_url").json()["data"]["user"]
    assert set(user) == {"avatar_url", "avatar_url_100", "avatar_large_url"}
    for url in user.values():
        assert url.startswith(walker.url + f"/_emulator/avatar/{ADA}.svg")
        image = requests.get(url, timeout=10)
        assert image.status_code == 200 and image.headers["Content-Type"].startswith("image/svg+xml")
        assert "<circle" in image.text and ">AC<" in image.text


@pytest.mark.parametrize("fields, code, named", [
    (None, "invalid_params", "fields"),
    ("", "invalid_params", "fields"),
    ("open_id,shoe_size", "invalid_params", "shoe_size"),
    ("open_id,profile_web_link", "invalid_params", "profile_web_link"),
    ("open_id,follower_count", "scope_permission_missed", "follower_count"),
    ("bio_description,video_count", "scope_permission_missed", "video_count"),
])
def test_field_errors(walker, fields, code, named):
    token = walker.login(scope="user.info.basic,user.info.profile")["access_token"]
    response = walker.user_info(token, fields)
    error = envelope_error(response)
    assert response.status_code == 400
    assert error["code"] == code and named in error["message"]


def test_token_without_basic_scope_is_not_authorized(walker):
    token = walker.login(scope="video.list")["access_token"]
    response = walker.user_info(token)
    assert response.status_code == 401 and envelope_error(response)["code"] == "scope_not_authorized"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer act.unknown", "act.x"])
def test_missing_malformed_or_unknown_token(walker, header):
    headers = {"Authorization": header} if header is not None else {}
    response = walker.http.get(walker.url + "/v2/user/info/", params={"fields": "open_id"}, headers=headers,
                               timeout=10)
    assert response.status_code == 401 and envelope_error(response)["code"] == "access_token_invalid"


def test_expired_access_token(walker, remote):
    token = walker.login()["access_token"]
    remote.advance_clock(7199)
    assert walker.user_info(token).status_code == 200
    remote.advance_clock(1)
    response = walker.user_info(token)
    assert response.status_code == 401 and envelope_error(response)["code"] == "access_token_invalid"


@pytest.mark.slow
def test_rate_limit_600_per_minute_per_token(walker, remote):
    token = walker.login()["access_token"]
    other = walker.login()["access_token"]
    client = walker.server.app.test_client()  # 600 calls in-process for speed; the verdicts go over HTTP
    headers = {"Authorization": f"Bearer {token}"}
    statuses = {client.get("/v2/user/info/?fields=open_id", headers=headers).status_code for _ in range(600)}
    assert statuses == {200}
    limited = walker.user_info(token)
    error = envelope_error(limited)
    assert limited.status_code == 429 and error["code"] == "rate_limit_exceeded"
    assert error["message"] == "The API rate limit was exceeded. Please try again later."
    assert "Retry-After" not in limited.headers
    assert walker.user_info(other).status_code == 200  # windows are per token
    remote.advance_clock(59)
    assert walker.user_info(token).status_code == 429
    remote.advance_clock(1)
    assert walker.user_info(token).status_code == 200


def test_profile_deep_link_is_local(walker):
    token = walker.login()["access_token"]
    link = walker.user_info(token, "profile_deep_link").json()["data"]["user"]["profile_deep_link"]
    page = requests.get(link, timeout=10)
    assert link.startswith(walker.url) and page.status_code == 200 and "@ada.creates" in page.text
