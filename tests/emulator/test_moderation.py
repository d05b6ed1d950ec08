"""Moderation over loopback: a public post's id appears only after the moderation delay on the emulator clock, or
never when withheld; the control API and the command line set both."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.posting_helpers import ADA, Poster, direct_body, file_source, login, put_chunk
from tests.media_fixtures import make_video
from tiktok.emulator import EmulatorConfig, EmulatorRemote
from tiktok.emulator.__main__ import build_parser, config_from_args

TIMEOUT = 10
SCOPES = "user.info.basic,video.list,video.publish,video.upload"
DAY_S = 86_400


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("moderation") / "clip.mp4", seconds=1.0)


@pytest.fixture
def posting_emulator(make_emulator, tmp_path):
    """Makes the emulator with fresh state, media kept under tmp_path and no processing polls."""
    def make(**changes):
        return make_emulator(media_dir=str(tmp_path / "media"), processing_polls=0, **changes)
    return make


def post_video(url: str, token: str, clip, privacy: str = "PUBLIC_TO_EVERYONE") -> tuple[Poster, str, dict]:
    """Post ``clip`` directly; returns the poster, the publish_id and the first terminal status."""
    poster = Poster(url, token)
    size = clip.stat().st_size
    started = poster.ok_data(poster.video_init(direct_body(file_source(size), privacy, title="Moderated")))
    assert put_chunk(started["upload_url"], clip.read_bytes(), 0, size).status_code == 201
    return poster, started["publish_id"], poster.until_terminal(started["publish_id"])


def listed_ids(url: str, token: str) -> list[str]:
    """The ids on the newest page of the user's video list."""
    response = requests.post(f"{url}/v2/video/list/", params={"fields": "id"}, json={"max_count": 20},
                             headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    return [v["id"] for v in response.json()["data"]["videos"]]


def post_ids(poster: Poster, publish_id: str) -> list[int]:
    return poster.ok_data(poster.status(publish_id))["publicaly_available_post_id"]


def test_the_public_id_appears_only_after_the_delay_on_the_emulator_clock(posting_emulator, clip):
    server = posting_emulator(moderation_delay_s=60)
    token, remote = login(server, ADA, SCOPES), EmulatorRemote(server.url)
    before = listed_ids(server.url, token)
    poster, publish_id, done = post_video(server.url, token, clip)
    assert done["status"] == "PUBLISH_COMPLETE" and done["publicaly_available_post_id"] == []
    pending = str(server.state.posts[publish_id].pending_post_id)
    assert listed_ids(server.url, token) == before  # not listed while under review
    assert requests.get(f"{server.url}/@ada.creates/video/{pending}", timeout=TIMEOUT).status_code == 404
    assert remote.state()["posts"][0]["moderation"] == "under_review"
    remote.advance_clock(59.5)
    assert post_ids(poster, publish_id) == []
    remote.advance_clock(0.5)
    assert post_ids(poster, publish_id) == [int(pending)]
    assert listed_ids(server.url, token)[0] == pending
    assert requests.get(f"{server.url}/@ada.creates/video/{pending}", timeout=TIMEOUT).status_code == 200
    assert remote.state()["posts"][0]["moderation"] == "public"


def test_a_withheld_id_never_appears(posting_emulator, clip):
    server = posting_emulator(withhold_post_ids=True)
    token, remote = login(server, ADA, SCOPES), EmulatorRemote(server.url)
    before = listed_ids(server.url, token)
    poster, publish_id, done = post_video(server.url, token, clip)
    assert done["status"] == "PUBLISH_COMPLETE" and done["publicaly_available_post_id"] == []
    remote.advance_clock(30 * DAY_S)
    token = login(server, ADA, SCOPES)  # the first token expired meanwhile; any token of the user may poll
    poster = Poster(server.url, token)
    assert post_ids(poster, publish_id) == []
    assert listed_ids(server.url, token) == before
    remote.set_moderation(withhold=False)  # applies to later posts: this one stays withheld for good
    remote.advance_clock(3600)
    assert post_ids(poster, publish_id) == []
    [post] = remote.state()["posts"]
    assert (post["moderation"], post["post_ids"], post["public_at"]) == ("withheld", [], None)


def test_non_public_posts_never_get_an_id_whatever_the_delay(posting_emulator, clip):
    server = posting_emulator(moderation_delay_s=5)
    token = login(server, ADA, SCOPES)
    poster, publish_id, done = post_video(server.url, token, clip, privacy="MUTUAL_FOLLOW_FRIENDS")
    assert done["status"] == "PUBLISH_COMPLETE"
    EmulatorRemote(server.url).advance_clock(3600)
    assert post_ids(poster, publish_id) == []
    assert EmulatorRemote(server.url).state()["posts"][0]["moderation"] is None


def test_no_delay_publishes_the_id_with_publish_complete(posting_emulator, clip):
    emulator = posting_emulator()
    token = login(emulator, ADA, SCOPES)
    _, _, done = post_video(emulator.url, token, clip)
    assert done["status"] == "PUBLISH_COMPLETE" and len(done["publicaly_available_post_id"]) == 1


def test_a_delay_set_at_runtime_applies_to_the_next_posts(posting_emulator, clip):
    emulator = posting_emulator()
    remote = EmulatorRemote(emulator.url)
    token = login(emulator, ADA, SCOPES)
    assert remote.moderation() == {"delay_s": 0.0, "withhold": False}
    assert remote.set_moderation(delay_s=30) == {"delay_s": 30.0, "withhold": False}
    poster, publish_id, _ = post_video(emulator.url, token, clip)
    remote.set_moderation(delay_s=0)  # the post under review keeps the release time it got
    assert post_ids(poster, publish_id) == []
    remote.advance_clock(30)
    assert len(post_ids(poster, publish_id)) == 1
    assert remote.state()["posting"]["moderation_delay_s"] == 0.0


def test_an_inbox_draft_posted_in_public_goes_through_moderation_too(posting_emulator, clip):
    server = posting_emulator(moderation_delay_s=10)
    poster = Poster(server.url, login(server, ADA, SCOPES))
    started = poster.ok_data(poster.inbox_init({"source_info": file_source(clip.stat().st_size)}))
    put_chunk(started["upload_url"], clip.read_bytes(), 0, clip.stat().st_size)
    assert poster.until_terminal(started["publish_id"])["status"] == "SEND_TO_USER_INBOX"
    hook = requests.post(f"{server.url}/_emulator/posts/{started['publish_id']}/user_posted",
                         json={"post_info": {"privacy_level": "PUBLIC_TO_EVERYONE"}}, timeout=TIMEOUT)
    assert hook.status_code == 200 and hook.json()["moderation"] == "under_review"
    assert post_ids(poster, started["publish_id"]) == []
    EmulatorRemote(server.url).advance_clock(10)
    assert len(post_ids(poster, started["publish_id"])) == 1


@pytest.mark.parametrize("body, message", [
    ([1], "JSON object"),
    ({"delay": 5}, "unknown field(s) delay"),
    ({"delay_s": -1}, "delay_s must be"),
    ({"delay_s": "5"}, "delay_s must be"),
    ({"delay_s": True}, "delay_s must be"),
    ('{"delay_s": Infinity}', "delay_s must be"),  # Python's json reads it; the emulator must not take it
    ({"delay_s": None}, "delay_s must be"),
    ({"withhold": "yes"}, "withhold must be true or false"),
    ({"withhold": 1}, "withhold must be true or false"),
])
def test_bad_moderation_bodies_are_refused_and_change_nothing(emulator, remote, body, message):
    sent = {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, str) else {"json": body}
    response = requests.post(f"{emulator.url}/_emulator/moderation", timeout=TIMEOUT, **sent)
    assert response.status_code == 400 and message in response.json()["error"]
    assert remote.moderation() == {"delay_s": 0.0, "withhold": False}


def test_a_body_without_json_is_refused(emulator):
    response = requests.post(f"{emulator.url}/_emulator/moderation", data="delay=5", timeout=TIMEOUT)
    assert response.status_code == 400 and "JSON object" in response.json()["error"]


def test_an_empty_body_changes_nothing_and_both_can_change_at_once(emulator, remote):
    assert remote.set_moderation() == {"delay_s": 0.0, "withhold": False}
    assert remote.set_moderation(delay_s=12.5, withhold=True) == {"delay_s": 12.5, "withhold": True}
    assert remote.set_moderation(withhold=False) == {"delay_s": 12.5, "withhold": False}
    posting = remote.state()["posting"]
    assert (posting["moderation_delay_s"], posting["withhold_post_ids"]) == (12.5, False)


@pytest.mark.parametrize("changes, message", [
    ({"moderation_delay_s": -0.5}, "moderation_delay_s"),
    ({"moderation_delay_s": float("nan")}, "moderation_delay_s"),
    ({"moderation_delay_s": True}, "moderation_delay_s"),
    ({"withhold_post_ids": "yes"}, "withhold_post_ids"),
])
def test_invalid_moderation_config_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(**changes)


def test_command_line_sets_the_moderation():
    config = config_from_args(build_parser().parse_args(["--moderation-delay", "45", "--withhold-post-ids"]))
    assert (config.moderation_delay_s, config.withhold_post_ids) == (45.0, True)
    default = config_from_args(build_parser().parse_args([]))
    assert (default.moderation_delay_s, default.withhold_post_ids) == (0.0, False)
    with pytest.raises(ValueError, match="moderation_delay_s"):
        config_from_args(build_parser().parse_args(["--moderation-delay", "-1"]))


def test_a_runtime_change_leaves_the_callers_config_alone(make_emulator):
    config = EmulatorConfig()
    server = make_emulator(config)
    EmulatorRemote(server.url).set_moderation(delay_s=5, withhold=True)
    assert (server.config.moderation_delay_s, server.config.withhold_post_ids) == (5.0, True)
    assert (config.moderation_delay_s, config.withhold_post_ids) == (0.0, False)
