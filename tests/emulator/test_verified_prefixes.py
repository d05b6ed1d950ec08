"""Verified URL prefixes are configurable: on the command line (--verified-prefix) and through the control API, as
an app's owner verifies them in TikTok's portal; a pull from one is accepted, from anywhere else refused."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.posting_helpers import Poster, direct_body, login, make_image, start_media_host, url_source
from tests.media_fixtures import make_video
from tiktok.emulator.__main__ import build_parser, config_from_args
from tiktok.emulator.config import EmulatorConfig, prefix_problem
from tiktok.emulator.remote import EmulatorRemote


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verified-media")
    media = start_media_host({"/media/clip.mp4": make_video(folder / "clip.mp4"),
                              "/photos/p.jpg": make_image(folder / "p.jpg", "mjpeg")})
    yield media
    media.server.shutdown()


def test_a_new_app_has_no_verified_prefix_and_the_command_line_adds_them():
    assert EmulatorConfig().verified_url_prefixes == []
    args = build_parser().parse_args(["--verified-prefix", "https://media.example.com/tiktok/",
                                      "--verified-prefix", "cdn.example.com"])
    assert config_from_args(args).verified_url_prefixes == ["https://media.example.com/tiktok/", "cdn.example.com"]
    with pytest.raises(ValueError, match="must be a domain or end with '/'"):
        config_from_args(build_parser().parse_args(["--verified-prefix", "https://media.example.com/tiktok"]))


@pytest.mark.parametrize("prefix, fine", [
    ("https://media.example.com/", True), ("static.example.com", True), ("http://127.0.0.1:8080/media/", True),
    ("https://media.example.com/videos", False), ("ftp://media.example.com/", False), ("example.com/videos/", False),
    ("localhost", False), (" cdn.example.com", False), ("", False), ("cdn.example.com\n", False),
])
def test_what_counts_as_a_prefix(prefix, fine):
    assert (prefix_problem(prefix) is None) == fine


def test_the_control_api_verifies_prefixes_and_pulls_follow(make_emulator, host):
    server = make_emulator(processing_polls=0)
    remote, poster = EmulatorRemote(server.url), Poster(server.url, login(server))
    refused = poster.video_init(direct_body(url_source(host.url + "/media/clip.mp4")))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "url_ownership_unverified"
    assert remote.verify_prefixes(host.url + "/media/", host.url + "/media/") == [host.url + "/media/"]
    accepted = poster.video_init(direct_body(url_source(host.url + "/media/clip.mp4")))
    assert accepted.status_code == 200, accepted.text
    still = poster.video_init(direct_body(url_source(host.url + "/photos/p.jpg")))
    assert still.json()["error"]["code"] == "url_ownership_unverified"  # another prefix of the same host
    assert remote.verified_prefixes() == [host.url + "/media/"]


def test_a_bad_prefix_is_refused_and_changes_nothing(make_emulator):
    server = make_emulator()
    remote = EmulatorRemote(server.url)
    for body in ({"add": ["https://media.example.com/no-slash"]}, {"add": []}, {"add": "cdn.example.com"}, None):
        answer = requests.post(server.url + "/_emulator/verified_prefixes", json=body, timeout=5)
        assert answer.status_code == 400, body
    assert remote.verified_prefixes() == []
