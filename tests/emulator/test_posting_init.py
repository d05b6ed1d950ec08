"""Init endpoints and creator_info: body rules, chunk plans, privacy, caps, unaudited rules, scopes, rate limits."""

from __future__ import annotations

import pytest

from tests.emulator.posting_helpers import (
    ADA,
    BO,
    CY,
    Poster,
    direct_body,
    file_source,
    login,
    put_chunk,
    url_source,
)
from tiktok.emulator.post_schema import chunk_plan_problem
from tiktok.emulator.posts import PostingSettings

MIB5 = 5_242_880
OK_SOURCE = file_source(10_000_000, 10_000_000)


@pytest.fixture
def server(make_emulator, tmp_path):
    return make_emulator(media_dir=str(tmp_path / "media"))


@pytest.fixture
def poster(server) -> Poster:
    return Poster(server.url, login(server))


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# ---- creator_info ----

def test_creator_info_for_public_private_and_limited_creators(server):
    ada = Poster(server.url, login(server, ADA)).ok_data(Poster(server.url, login(server, ADA)).creator_info())
    assert ada["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    assert (ada["creator_nickname"], ada["creator_username"], ada["max_video_post_duration_sec"]) == (
        "Ada Creator", "ada.creates", 600)
    assert ada["creator_avatar_url"].startswith(server.url)
    cy_poster = Poster(server.url, login(server, CY))
    cy = cy_poster.ok_data(cy_poster.creator_info())
    assert cy["privacy_level_options"] == ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    assert cy["duet_disabled"] and cy["stitch_disabled"] and not cy["comment_disabled"]
    bo_poster = Poster(server.url, login(server, BO))
    bo = bo_poster.ok_data(bo_poster.creator_info())
    assert bo["max_video_post_duration_sec"] == 60 and bo["stitch_disabled"] and not bo["duet_disabled"]


def test_creator_info_needs_video_publish(server):
    poster = Poster(server.url, login(server, scope="user.info.basic,video.upload"))
    assert error_of(poster.creator_info()) == (401, "scope_not_authorized")


def test_banned_user_gets_200_on_creator_info_and_403_at_init(make_emulator):
    server = make_emulator(posting={ADA: PostingSettings(banned_from_posting=True)})
    poster = Poster(server.url, login(server))
    assert error_of(poster.creator_info()) == (200, "spam_risk_user_banned_from_posting")
    assert error_of(poster.video_init(direct_body(OK_SOURCE))) == (403, "spam_risk_user_banned_from_posting")
    assert error_of(poster.inbox_init({"source_info": OK_SOURCE})) == (403, "spam_risk_user_banned_from_posting")


def test_daily_post_cap_then_a_new_day(server, poster):
    server.reset(server.config.replace(daily_post_cap=2), time_fn=lambda: 1_795_000_000.0)
    poster = Poster(server.url, login(server))
    for _ in range(2):
        poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))
    assert error_of(poster.video_init(direct_body(OK_SOURCE))) == (403, "spam_risk_too_many_posts")
    assert error_of(poster.creator_info()) == (200, "spam_risk_too_many_posts")
    poster.ok_data(poster.inbox_init({"source_info": OK_SOURCE}))  # drafts are not direct posts
    server.state.advance(86_400)
    poster = Poster(server.url, login(server))  # the old token died with the day
    poster.ok_data(poster.creator_info())


def test_per_creator_cap_override(make_emulator):
    server = make_emulator(posting={ADA: PostingSettings(daily_post_cap=1)})
    poster = Poster(server.url, login(server))
    poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))
    assert error_of(poster.video_init(direct_body(OK_SOURCE))) == (403, "spam_risk_too_many_posts")


def test_five_pending_inbox_shares_then_refused(server, poster):
    for _ in range(5):
        poster.ok_data(poster.inbox_init({"source_info": OK_SOURCE}))
    assert error_of(poster.inbox_init({"source_info": OK_SOURCE})) == (403, "spam_risk_too_many_pending_share")
    poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))  # direct posts are not shares
    server.state.advance(86_401)
    poster = Poster(server.url, login(server))
    poster.ok_data(poster.inbox_init({"source_info": OK_SOURCE}))


# ---- unaudited clients ----

def test_unaudited_client_rules(make_emulator):
    server = make_emulator(audited=False)
    public = Poster(server.url, login(server, ADA))
    public.ok_data(public.creator_info())  # creator_info still answers
    assert error_of(public.video_init(direct_body(OK_SOURCE))) == (
        403, "unaudited_client_can_only_post_to_private_accounts")  # public account, even SELF_ONLY
    private = Poster(server.url, login(server, CY))
    assert error_of(private.video_init(direct_body(OK_SOURCE, "FOLLOWER_OF_CREATOR"))) == (
        403, "unaudited_client_can_only_post_to_private_accounts")
    private.ok_data(private.video_init(direct_body(OK_SOURCE, "SELF_ONLY")))
    public.ok_data(public.inbox_init({"source_info": OK_SOURCE}))  # the inbox flow is not restricted


def test_unaudited_client_active_user_cap(make_emulator):
    from tiktok.emulator.config import EmulatedUser

    users = [EmulatedUser(f"user-{i}", f"union-{i}", f"User {i}", f"user{i}", private_account=True)
             for i in range(6)]
    server = make_emulator(audited=False, users=users)
    posters = [Poster(server.url, login(server, u.open_id)) for u in users]
    for poster in posters[:5]:
        poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))
    assert error_of(posters[5].creator_info()) == (200, "reached_active_user_cap")
    assert error_of(posters[5].video_init(direct_body(OK_SOURCE))) == (403, "reached_active_user_cap")
    posters[0].ok_data(posters[0].video_init(direct_body(OK_SOURCE)))  # already active today


# ---- body rules ----

@pytest.mark.parametrize("body, field", [
    ({"source_info": OK_SOURCE}, "post_info"),
    ({"post_info": {"privacy_level": "SELF_ONLY", "brand_content_toggle": False}}, "source_info"),
    (direct_body(OK_SOURCE, title="x" * 2201), "post_info.title"),
    (direct_body(OK_SOURCE, title="\U0001F600" * 1101), "post_info.title"),  # 2202 UTF-16 units
    (direct_body(OK_SOURCE, disable_duet="no"), "post_info.disable_duet"),
    (direct_body(OK_SOURCE, privacy=5), "post_info.privacy_level"),
    (direct_body(OK_SOURCE, privacy_typo=True), "post_info.privacy_typo"),
    ({"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": OK_SOURCE}, "post_info.brand_content_toggle"),
    (direct_body({"source": "UPLOAD"}), "source_info.source"),
    (direct_body({"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10}), "source_info.total_chunk_count"),
    (direct_body({**OK_SOURCE, "video_size": "10000000"}), "source_info.video_size"),
    (direct_body({**OK_SOURCE, "video_url": "https://x.example/a.mp4"}), "source_info.video_url"),
    (direct_body({"source": "PULL_FROM_URL"}), "source_info.video_url"),
    ({**direct_body(OK_SOURCE), "extra": 1}, "extra"),
])
def test_direct_init_body_errors_name_the_field(poster, body, field):
    response = poster.video_init(body)
    assert error_of(response) == (400, "invalid_param")
    assert field in response.json()["error"]["message"]


def test_title_of_exactly_2200_utf16_units_is_accepted(poster):
    poster.ok_data(poster.video_init(direct_body(OK_SOURCE, title="\U0001F600" * 1100)))


def test_inbox_init_refuses_post_info(poster):
    response = poster.inbox_init(direct_body(OK_SOURCE))
    assert error_of(response) == (400, "invalid_param") and "post_info" in response.json()["error"]["message"]


def test_json_content_type_is_required(server, poster):
    response = poster.http.post(server.url + "/v2/post/publish/video/init/", data="{}",
                                headers={"Authorization": f"Bearer {poster.token}",
                                         "Content-Type": "text/plain"}, timeout=10)
    assert error_of(response) == (400, "invalid_param")


@pytest.mark.parametrize("privacy", [None, "PUBLIC", "FOLLOWER_OF_CREATOR"])
def test_privacy_not_offered_is_403_mismatch(poster, privacy):
    body = direct_body(OK_SOURCE)
    body["post_info"].pop("privacy_level")
    if privacy:
        body["post_info"]["privacy_level"] = privacy
    assert error_of(poster.video_init(body)) == (403, "privacy_level_option_mismatch")


def test_validation_order_schema_then_caps_then_privacy_then_url_then_plan(make_emulator):
    server = make_emulator(daily_post_cap=0)
    poster = Poster(server.url, login(server))
    bad_everything = direct_body(file_source(10, 3, 7), privacy="NOPE", title=1)
    assert error_of(poster.video_init(bad_everything)) == (400, "invalid_param")
    bad_everything["post_info"].pop("title")
    assert error_of(poster.video_init(bad_everything)) == (403, "spam_risk_too_many_posts")
    server.reset(server.config.replace(daily_post_cap=15))
    poster = Poster(server.url, login(server))
    assert error_of(poster.video_init(bad_everything)) == (403, "privacy_level_option_mismatch")
    url_post = direct_body(url_source("https://unverified.example/v.mp4"), privacy="NOPE")
    assert error_of(poster.video_init(url_post)) == (403, "privacy_level_option_mismatch")
    url_post["post_info"]["privacy_level"] = "SELF_ONLY"
    assert error_of(poster.video_init(url_post)) == (403, "url_ownership_unverified")
    assert error_of(poster.video_init(direct_body(file_source(10, 3, 7)))) == (400, "invalid_params")


def test_branded_self_only_is_refused_only_in_strict_mode(make_emulator):
    body = direct_body(OK_SOURCE, brand_content_toggle=True)
    lenient = make_emulator()
    Poster(lenient.url, login(lenient)).ok_data(Poster(lenient.url, login(lenient)).video_init(body))
    strict = make_emulator(reject_branded_self_only=True)
    assert error_of(Poster(strict.url, login(strict)).video_init(body)) == (400, "invalid_param")


# ---- chunk plans ----

ACCEPTED_PLANS = [
    (50_000_123, 10_000_000, 5),              # doc example
    (4_194_304, 4_194_304, 1),                # doc whole-file example ("4 MB")
    (1, 1, 1),
    (MIB5, MIB5, 1),                          # exactly the minimum
    (MIB5 - 1, MIB5 - 1, 1),
    (64_000_000, 64_000_000, 1),              # the largest single chunk
    (64_000_001, 32_000_000, 2),              # just over: two chunks
    (191_999_999, 64_000_000, 2),             # final chunk 127,999,999 bytes, just under its cap
    (30_000_000, 10_000_000, 3),              # exact multiple: the count is the floor, no empty chunk
    (762 * MIB5, MIB5, 762),                  # the most 5 MiB chunks under 4,000,000,000 bytes
    (4_000_000_000, 64_000_000, 62),          # the largest video; final chunk 96,000,000
]
REJECTED_PLANS = [
    (0, 0, 0),
    (10_000_000, 10_000_000, 0),              # count must be floor(size / chunk) = 1
    (50_000_123, 10_000_000, 6),              # ceil instead of floor
    (30_000_000, 10_000_000, 4),              # one too many for an exact multiple
    (4_000_000, 2_000_000, 2),                # under 5 MiB: must be one chunk
    (4_194_304, 1_000_000, 4),
    (20_000_000, 5_000_000, 4),               # chunk under 5 MiB (decimal "5 MB" is not enough)
    (100_000_000, 64_000_001, 1),             # chunk over 64,000,000
    (66_000_000, 64_000_000, 1),              # over 64,000,000 bytes in one chunk
    (64_000_001, 64_000_001, 1),
    (15_000_000, 10_000_000, 1),              # one chunk but chunk_size != video_size
    (10_000_000, -1, -10_000_000),            # negative chunk size
    (1001 * MIB5, MIB5, 1001),                # more than 1000 chunks (and over 4 GB)
    (4_000_000_001, 64_000_000, 62),          # over 4 GB
]


@pytest.mark.parametrize("size, chunk, count", ACCEPTED_PLANS)
def test_valid_plans_are_accepted(poster, size, chunk, count):
    data = poster.ok_data(poster.video_init(direct_body(file_source(size, chunk, count))))
    assert "upload_url" in data


@pytest.mark.parametrize("size, chunk, count", REJECTED_PLANS)
def test_invalid_plans_are_rejected_with_invalid_params(poster, size, chunk, count):
    assert chunk_plan_problem(size, chunk, count) is not None
    response = poster.video_init(direct_body(file_source(size, chunk, count)))
    assert error_of(response) == (400, "invalid_params")
    assert response.json()["error"]["message"] == "The chunk size is invalid"
    assert response.headers["X-Emulator-Reason"]


def test_inbox_init_applies_the_same_plan_rules(poster):
    assert error_of(poster.inbox_init({"source_info": file_source(66_000_000, 64_000_000, 1)})) == (
        400, "invalid_params")


def test_rejected_init_creates_no_post(server, poster):
    poster.video_init(direct_body(file_source(10, 3, 7)))
    assert server.state.posts == {}


# ---- scopes, rate limits ----

@pytest.mark.parametrize("endpoint, scope", [
    ("video/init/", "user.info.basic,video.upload"),
    ("inbox/video/init/", "user.info.basic,video.publish"),
    ("status/fetch/", "user.info.basic"),
])
def test_missing_scope_is_401(server, endpoint, scope):
    poster = Poster(server.url, login(server, scope=scope))
    assert error_of(poster.call(endpoint, {})) == (401, "scope_not_authorized")


@pytest.mark.parametrize("endpoint, limit, body", [
    ("video/init/", 6, direct_body(OK_SOURCE)),
    ("inbox/video/init/", 6, {"source_info": file_source(10, 3, 7)}),
    ("content/init/", 6, {}),
    ("creator_info/query/", 20, None),
    ("status/fetch/", 30, {"publish_id": "nope"}),
])
def test_rate_limits_per_token_per_endpoint(server, endpoint, limit, body):
    token = login(server)
    client = server.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    codes = [client.post("/v2/post/publish/" + endpoint, json=body, headers=headers).status_code
             for _ in range(limit + 1)]
    assert 429 not in codes[:limit] and codes[limit] == 429
    last = client.post("/v2/post/publish/" + endpoint, json=body, headers=headers)
    assert last.get_json()["error"]["code"] == "rate_limit_exceeded"
    other = client.post("/v2/post/publish/" + endpoint, json=body,
                        headers={"Authorization": f"Bearer {login(server)}"})
    assert other.status_code != 429  # the window is per token
    server.state.advance(60)
    assert client.post("/v2/post/publish/" + endpoint, json=body, headers=headers).status_code != 429


def test_publish_id_prefixes(poster):
    direct = poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))["publish_id"]
    inbox = poster.ok_data(poster.inbox_init({"source_info": OK_SOURCE}))["publish_id"]
    assert direct.startswith("v_pub_file~v2.") and inbox.startswith("v_inbox_file~v2.")
    assert len(direct) <= 64 and direct != poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))["publish_id"]


def test_a_file_upload_answers_an_upload_url_on_this_host(server, poster):
    data = poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))
    assert data["upload_url"].startswith(server.url + "/upload/video/?upload_id=")
    assert len(data["upload_url"]) <= 256
    assert put_chunk(data["upload_url"], b"x", 0, 10_000_000).status_code == 416  # alive, wrong chunk
