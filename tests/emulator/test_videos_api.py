"""``/v2/video/list/`` and ``/v2/video/query/`` over loopback: paging, fields, validation, scopes, daily stats."""

from __future__ import annotations

import re
import threading

import pytest
import requests

from tiktok.emulator.catalogue import DAY_S, emulated_day, user_stats, video_stats
from tiktok.emulator.posts import Post
from tiktok.emulator.videos import VIDEO_FIELDS

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
BO = "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68"
CY = "e51a7d90-2c4b-4b6f-9e03-8a1d5c7f2b49"
VIDEO_SCOPES = "user.info.basic,user.info.stats,video.list"
TIMEOUT = 10


class Display:
    """A Display API caller for one access token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.headers = url, {"Authorization": f"Bearer {token}"}

    def list(self, fields: str | None = "id,create_time", body=None, **kwargs) -> requests.Response:
        params = {"fields": fields} if fields is not None else {}
        return requests.post(self.url + "/v2/video/list/", params=params, json=body, headers=self.headers,
                             timeout=TIMEOUT, **kwargs)

    def query(self, ids, fields: str = "id,title", body=None) -> requests.Response:
        body = body if body is not None else {"filters": {"video_ids": ids}}
        return requests.post(self.url + "/v2/video/query/", params={"fields": fields}, json=body,
                             headers=self.headers, timeout=TIMEOUT)

    def user_stats(self) -> dict:
        response = requests.get(self.url + "/v2/user/info/", headers=self.headers, timeout=TIMEOUT,
                                params={"fields": "follower_count,following_count,likes_count,video_count"})
        return ok_data(response)["user"]


def ok_data(response: requests.Response) -> dict:
    body = response.json()
    assert response.status_code == 200 and body["error"]["code"] == "ok", body["error"]
    return body["data"]


def api_error(response: requests.Response, status: int) -> dict:
    body = response.json()
    assert response.status_code == status and body["data"] == {}
    return body["error"]


def catalogue(url: str, open_id: str = ADA) -> dict:
    response = requests.get(f"{url}/_emulator/videos/{open_id}", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def login(walker):
    def login_as(open_id: str = ADA, scope: str = VIDEO_SCOPES) -> Display:
        return Display(walker.url, walker.login(scope=scope, open_id=open_id)["access_token"])
    return login_as


@pytest.fixture
def ada(login) -> Display:
    return login()


@pytest.fixture
def ada_for_days(make_emulator, walker) -> Display:
    """Ada with an access token that outlives the emulated days a test moves through."""
    make_emulator(access_ttl=30 * DAY_S)
    return Display(walker.url, walker.login(scope=VIDEO_SCOPES)["access_token"])


def test_pages_through_25_videos_newest_first(ada, emulator):
    first = ok_data(ada.list(body={"max_count": 20}))
    rest = ok_data(ada.list(body={"max_count": 20, "cursor": first["cursor"]}))
    assert len(first["videos"]) == 20 and first["has_more"] is True
    assert len(rest["videos"]) == 5 and rest["has_more"] is False
    assert first["cursor"] == first["videos"][-1]["create_time"] * 1000
    assert rest["cursor"] == rest["videos"][-1]["create_time"] * 1000
    videos = first["videos"] + rest["videos"]
    assert len({v["id"] for v in videos}) == 25
    times = [v["create_time"] for v in videos]
    assert times == sorted(times, reverse=True) and max(times) < emulator.state.now()
    assert [v["id"] for v in videos] == [v["id"] for v in catalogue(emulator.url)["videos"]]


def test_cursor_returns_only_videos_created_strictly_before_it(ada):
    everything = ok_data(ada.list(body={"max_count": 20}))["videos"]
    pivot = everything[5]["create_time"] * 1000
    page = ok_data(ada.list(body={"max_count": 3, "cursor": pivot}))
    assert [v["id"] for v in page["videos"]] == [v["id"] for v in everything[6:9]]
    assert page["has_more"] is True


@pytest.mark.parametrize("body", [None, {}, {"cursor": 0}, {"cursor": None, "max_count": None}])
def test_defaults_to_ten_newest(ada, body):
    data = ok_data(ada.list(body=body))
    assert len(data["videos"]) == 10 and data["has_more"] is True


def test_a_private_account_without_videos_lists_nothing(login):
    data = ok_data(login(CY).list())
    assert data == {"videos": [], "cursor": 0, "has_more": False}


def test_every_field_is_returned_with_its_documented_type(ada, emulator):
    video = ok_data(ada.list(fields=",".join(VIDEO_FIELDS), body={"max_count": 1}))["videos"][0]
    assert set(video) == set(VIDEO_FIELDS)
    assert re.fullmatch(r"\d{19}", video["id"])
    for name in ("create_time", "duration", "height", "width", "like_count", "comment_count", "share_count",
                 "view_count"):
        assert isinstance(video[name], int) and not isinstance(video[name], bool), name
    assert isinstance(video["is_aigc"], bool)
    assert (video["width"], video["height"]) == (360, 640) and 2 <= video["duration"] <= 4
    assert 0 < len(video["title"]) <= 150 and 0 < len(video["video_description"]) <= 150
    assert video["share_url"] == (f"{emulator.url}/@ada.creates/video/{video['id']}"
                                  f"?utm_campaign=tt4d_open_api&utm_source={emulator.config.client_key}")
    assert video["embed_link"] == f"{emulator.url}/player/v1/{video['id']}"
    assert f'data-video-id="{video["id"]}"' in video["embed_html"] and "tiktok-embed" in video["embed_html"]
    expires = int(emulator.state.now()) + 6 * 3600
    assert video["cover_image_url"] == f"{emulator.url}/_emulator/cover/{video['id']}.jpg?x-expires={expires}"


@pytest.mark.parametrize("fields", ["id", "title,view_count", "view_count,id,view_count,share_url"])
def test_returns_only_the_requested_fields(ada, fields):
    videos = ok_data(ada.list(fields=fields))["videos"]
    assert len(videos) == 10 and all(set(v) == set(fields.split(",")) for v in videos)


@pytest.mark.parametrize("fields, body, named", [
    (None, {}, "fields"),
    ("", {}, "fields"),
    (None, {"fields": ["id"]}, "fields"),
    ("id,shoe_size", {}, "shoe_size"),
    ("id,username", {}, "username"),
    ("id", {"max_count": 21}, "max_count"),
    ("id", {"max_count": 0}, "max_count"),
    ("id", {"max_count": "5"}, "max_count"),
    ("id", {"max_count": True}, "max_count"),
    ("id", {"cursor": -1}, "cursor"),
    ("id", {"cursor": "1700000000000"}, "cursor"),
    ("id", {"cursor": 1.5}, "cursor"),
    ("id", ["max_count", 5], "body"),
])
def test_list_rejects_invalid_params(ada, fields, body, named):
    error = api_error(ada.list(fields=fields, body=body), 400)
    assert error["code"] == "invalid_params" and named in error["message"]


def test_list_rejects_a_body_that_is_not_json(ada):
    response = ada.list(data=b"max_count=5", body=None)
    assert api_error(response, 400)["code"] == "invalid_params"


@pytest.mark.parametrize("call", ["list", "query"])
def test_needs_the_video_list_scope(login, call):
    display = login(scope="user.info.basic,user.info.stats")
    response = display.list() if call == "list" else display.query(["7000000000000000000"])
    assert api_error(response, 401)["code"] == "scope_not_authorized"


@pytest.mark.parametrize("call", ["list", "query"])
def test_needs_a_live_token(emulator, call):
    display = Display(emulator.url, "act.not-a-real-token")
    response = display.list() if call == "list" else display.query(["7000000000000000000"])
    assert api_error(response, 401)["code"] == "access_token_invalid"


def test_query_returns_own_videos_in_the_order_asked_and_omits_foreign_ones(ada, login, emulator):
    own = [v["id"] for v in catalogue(emulator.url)["videos"]]
    foreign = catalogue(emulator.url, BO)["videos"][0]["id"]
    asked = [own[7], foreign, "7000000000000000000", own[2], own[7]]
    data = ok_data(ada.query(asked, fields="id,title,view_count"))
    assert [v["id"] for v in data["videos"]] == [own[7], own[2]]
    assert set(data["videos"][0]) == {"id", "title", "view_count"}
    assert data["cursor"] == 0 and data["has_more"] is False
    assert [v["id"] for v in ok_data(login(BO).query([foreign, own[0]]))["videos"]] == [foreign]


@pytest.mark.parametrize("body, named", [
    ({}, "video_ids"),
    ({"filters": {}}, "video_ids"),
    ({"filters": {"video_ids": []}}, "video_ids"),
    ({"filters": {"video_ids": "7000000000000000000"}}, "video_ids"),
    ({"filters": {"video_ids": [7000000000000000000]}}, "video_ids"),
    ({"filters": {"video_ids": [str(7000000000000000000 + n) for n in range(21)]}}, "20"),
])
def test_query_rejects_invalid_params(ada, body, named):
    error = api_error(ada.query(None, body=body), 400)
    assert error["code"] == "invalid_params" and named in error["message"]


def test_query_accepts_twenty_ids(ada, emulator):
    own = [v["id"] for v in catalogue(emulator.url)["videos"]][:20]
    assert [v["id"] for v in ok_data(ada.query(own, fields="id"))["videos"]] == own


def test_query_needs_fields_in_the_query_string(ada):
    response = requests.post(ada.url + "/v2/video/query/", headers=ada.headers, timeout=TIMEOUT,
                             json={"filters": {"video_ids": ["7000000000000000000"]}, "fields": ["id"]})
    error = api_error(response, 400)
    assert error["code"] == "invalid_params" and "fields" in error["message"]


STATS = "id,view_count,like_count,comment_count,share_count"


def test_counts_hold_within_a_day_and_grow_the_next(ada_for_days, remote, emulator):
    start = emulator.state.now()
    remote.advance_clock((emulated_day(start) + 1) * DAY_S - start - 1)  # one second before midnight UTC
    morning = ok_data(ada_for_days.list(STATS, {"max_count": 20}))["videos"]
    assert ok_data(ada_for_days.list(STATS, {"max_count": 20}))["videos"] == morning
    remote.advance_clock(2)
    next_day = ok_data(ada_for_days.list(STATS, {"max_count": 20}))["videos"]
    assert [v["id"] for v in next_day] == [v["id"] for v in morning]
    for before, after in zip(morning, next_day):
        assert after["view_count"] > before["view_count"]
        for name in ("like_count", "comment_count", "share_count"):
            assert after[name] >= before[name]
    assert sum(v["like_count"] for v in next_day) > sum(v["like_count"] for v in morning)


def test_counts_are_the_catalogue_functions_of_the_emulated_day(ada_for_days, remote, emulator):
    remote.advance_clock(3 * DAY_S)
    day = emulated_day(emulator.state.now())
    for video in ok_data(ada_for_days.list("id,create_time," + STATS, {"max_count": 20}))["videos"]:
        stats = video_stats(video["id"], emulated_day(video["create_time"]), day)
        assert [video[n] for n in ("view_count", "like_count", "comment_count", "share_count")] == [
            stats.view_count, stats.like_count, stats.comment_count, stats.share_count]


def test_user_info_stats_match_the_catalogue_and_grow_per_day(ada_for_days, remote, emulator):
    user = emulator.config.user(ADA)
    first = ada_for_days.user_stats()
    assert first == {"follower_count": user.follower_count, "following_count": user.following_count,
                     "likes_count": user.likes_count, "video_count": 25}
    assert catalogue(emulator.url)["stats"] == first
    remote.advance_clock(2 * DAY_S)
    later = ada_for_days.user_stats()
    view = catalogue(emulator.url)
    assert later == view["stats"] == user_stats(user, emulator.state.catalogue.videos(ADA),
                                                emulator.state.catalogue.start_day, view["day"])
    assert all(later[n] > first[n] for n in ("follower_count", "following_count", "likes_count"))
    assert ada_for_days.user_stats() == later


def test_control_view_lists_every_field_and_added_videos_come_first(ada, remote, emulator):
    remote.advance_clock(60)
    response = requests.post(f"{emulator.url}/_emulator/videos/{ADA}", json={"title": "Brand new"},
                             timeout=TIMEOUT)
    assert response.status_code == 201
    added = response.json()["video"]
    assert set(added) == set(VIDEO_FIELDS) and added["title"] == "Brand new"
    assert added["create_time"] == int(emulator.state.now()) and added["view_count"] == 0
    view = catalogue(emulator.url)
    assert view["videos"][0] == added and len(view["videos"]) == 26 and view["stats"]["video_count"] == 26
    assert ok_data(ada.list("id,title", {"max_count": 1}))["videos"] == [{"id": added["id"], "title": "Brand new"}]
    assert ada.user_stats()["video_count"] == 26


@pytest.mark.parametrize("method, body, status", [("GET", None, 404), ("POST", {}, 404)])
def test_control_routes_name_unknown_users(emulator, method, body, status):
    response = requests.request(method, f"{emulator.url}/_emulator/videos/nobody", json=body, timeout=TIMEOUT)
    assert response.status_code == status and "nobody" in response.json()["error"]


def test_control_add_rejects_a_non_string_title(emulator):
    response = requests.post(f"{emulator.url}/_emulator/videos/{ADA}", json={"title": 5}, timeout=TIMEOUT)
    assert response.status_code == 400


def _completed_post(open_id: str, now: float, privacy: str) -> Post:
    return Post(publish_id=f"v_pub_file~v2-1.{privacy}", open_id=open_id, kind="video", mode="direct",
                source="FILE_UPLOAD", status="PUBLISH_COMPLETE", created_at=now - 30,
                post_info={"title": f"Posted {privacy}", "privacy_level": privacy}, duration_s=3.2, width=720,
                height=1280, completed_at=now, post_ids=[7450000000000000001] if privacy.startswith("PUBLIC") else [])


def test_completed_public_posts_are_listed_for_their_creator(login, emulator):
    state = emulator.state
    with state.lock:
        for privacy in ("PUBLIC_TO_EVERYONE", "SELF_ONLY"):
            post = _completed_post(BO, state.now(), privacy)
            state.posts[post.publish_id] = post
    bo = login(BO)
    videos = ok_data(bo.list("id,title,create_time,duration,width,height,view_count"))["videos"]
    assert len(videos) == 4
    assert videos[0] == {"id": "7450000000000000001", "title": "Posted PUBLIC_TO_EVERYONE",
                         "create_time": int(state.now()), "duration": 3, "width": 720, "height": 1280,
                         "view_count": 0}
    assert ok_data(bo.query(["7450000000000000001"], fields="id"))["videos"] == [{"id": "7450000000000000001"}]
    assert ok_data(login(ADA).query(["7450000000000000001"], fields="id"))["videos"] == []
    assert bo.user_stats()["video_count"] == 4


def test_concurrent_listing_is_consistent(ada):
    results: list[list[str]] = []

    def read() -> None:
        results.append([v["id"] for v in ok_data(ada.list("id", {"max_count": 20}))["videos"]])

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r == results[0] for r in results)


def test_list_allows_600_calls_a_minute_per_token_and_endpoint(ada, emulator, remote):
    client = emulator.app.test_client()  # 600 calls in-process for speed; the verdicts go over HTTP
    statuses = {client.post("/v2/video/list/?fields=id", json={"max_count": 1}, headers=ada.headers).status_code
                for _ in range(600)}
    assert statuses == {200}
    assert api_error(ada.list(), 429)["code"] == "rate_limit_exceeded"
    assert ok_data(ada.query(["7000000000000000000"])) == {"videos": [], "cursor": 0, "has_more": False}
    remote.advance_clock(60)
    assert ok_data(ada.list())["has_more"] is True
