"""The emulated app's modes (reference 8.2 sandbox, 8.3 unaudited, audited by default), private accounts (3.1) and
the "stuck forever" post fault (8.5), over real HTTP; plus ``python -m tiktok.emulator --mode``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.emulator.emulator_helpers import OAuthWalker
from tests.emulator.posting_helpers import ADA, BO, CY, Poster, direct_body, file_source, login, put_chunk
from tests.media_fixtures import make_video
from tiktok.emulator import EmulatorConfig, EmulatorRemote, default_users
from tiktok.emulator.config import EmulatedUser

REPO = Path(__file__).resolve().parents[2]
OK_SOURCE = file_source(10_000_000, 10_000_000)
PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]     # reference 3.1, public account
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]   # reference 3.1, private account
UNAUDITED = "unaudited_client_can_only_post_to_private_accounts"


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def photo_body(server, mode: str = "DIRECT_POST", privacy: str = "SELF_ONLY") -> dict:
    post_info = ({"privacy_level": privacy, "brand_content_toggle": False, "brand_organic_toggle": False}
                 if mode == "DIRECT_POST" else {})
    return {"media_type": "PHOTO", "post_mode": mode, "post_info": post_info,
            "source_info": {"source": "PULL_FROM_URL", "photo_images": [server.url + "/photos/a.jpg"],
                            "photo_cover_index": 0}}


def creator(server, open_id: str) -> dict:
    poster = Poster(server.url, login(server, open_id))
    return poster.ok_data(poster.creator_info())


def consent(server, open_id: str):
    walker = OAuthWalker(server)
    params = walker.params()
    return params, walker.consent(params, open_id=open_id)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("mode-clips") / "clip.mp4")


# ---- defaults: audited, as today ----

def test_shipped_default_is_audited_with_every_option(emulator, remote):
    assert emulator.config.app_mode == "audited"
    assert remote.mode() == {"mode": "audited", "sandbox_targets": None}
    assert remote.state()["client"]["mode"] == "audited" and remote.state()["posting"]["audited"] is True
    for open_id in (ADA, BO, CY):  # no sandbox: everyone may authorise
        assert "code" in consent(emulator, open_id)[1].query
    assert creator(emulator, ADA)["privacy_level_options"] == PUBLIC_OPTIONS
    ada = Poster(emulator.url, login(emulator, ADA))
    for privacy in PUBLIC_OPTIONS:  # a public account may post with each of its options
        ada.ok_data(ada.video_init(direct_body(OK_SOURCE, privacy)))
    cy = Poster(emulator.url, login(emulator, CY))
    cy.ok_data(cy.video_init(direct_body(OK_SOURCE, "FOLLOWER_OF_CREATOR")))


def test_default_users_have_one_private_account_and_one_non_target():
    users = default_users()
    assert [u.open_id for u in users if u.private_account] == [CY]
    assert [u.open_id for u in users if not u.sandbox_target] == [CY]
    assert EmulatorConfig(mode="sandbox").targets == [ADA, BO]
    assert EmulatorConfig().targets is None


def test_private_account_gets_private_options_and_no_duet_or_stitch(emulator):
    cy = creator(emulator, CY)
    assert cy["privacy_level_options"] == PRIVATE_OPTIONS
    assert cy["duet_disabled"] is True and cy["stitch_disabled"] is True
    ada = creator(emulator, ADA)
    assert ada["duet_disabled"] is False and ada["stitch_disabled"] is False


def test_legacy_switches_still_pick_the_mode():
    assert EmulatorConfig(sandbox_targets=[BO]).app_mode == "sandbox"
    assert EmulatorConfig(audited=False).app_mode == "unaudited"
    assert EmulatorConfig(mode="audited", sandbox_targets=[BO]).targets is None
    with pytest.raises(ValueError, match="mode must be one of"):
        EmulatorConfig(mode="beta")


# ---- sandbox ----

def test_sandbox_refuses_a_non_target_at_authorize_without_a_code(make_emulator):
    server = make_emulator(mode="sandbox")
    params, refused = consent(server, CY)
    assert refused.query["error"] == "non_sandbox_target" and refused.query["state"] == params["state"]
    assert "code" not in refused.query and refused.base == params["redirect_uri"]
    for target in (ADA, BO):
        assert "code" in consent(server, target)[1].query
    grants = EmulatorRemote(server.url).state()["tokens"]
    assert CY not in str(grants)  # no code, no grant for the refused user


def test_sandbox_with_named_targets(make_emulator):
    server = make_emulator(mode="sandbox", sandbox_targets=[BO])
    assert consent(server, ADA)[1].query["error"] == "non_sandbox_target"
    assert "code" in consent(server, BO)[1].query


# ---- unaudited ----

def test_unaudited_direct_post_needs_a_private_account_and_self_only(make_emulator):
    server = make_emulator(mode="unaudited")
    ada = Poster(server.url, login(server, ADA))
    ada.ok_data(ada.creator_info())  # creator_info still answers
    assert error_of(ada.video_init(direct_body(OK_SOURCE, "SELF_ONLY"))) == (403, UNAUDITED)  # public account
    assert error_of(ada.content_init(photo_body(server))) == (403, UNAUDITED)
    cy = Poster(server.url, login(server, CY))
    for privacy in ("FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS"):
        assert error_of(cy.video_init(direct_body(OK_SOURCE, privacy))) == (403, UNAUDITED)
        assert error_of(cy.content_init(photo_body(server, privacy=privacy))) == (403, UNAUDITED)
    cy.ok_data(cy.video_init(direct_body(OK_SOURCE, "SELF_ONLY")))
    server.state.add_verified_prefixes([server.url + "/photos/"])
    cy.ok_data(cy.content_init(photo_body(server)))
    # inbox drafts keep working for a public account (reference 3.3: "inbox uploads work for unaudited apps")
    ada.ok_data(ada.inbox_init({"source_info": OK_SOURCE}))
    ada.ok_data(ada.content_init(photo_body(server, "MEDIA_UPLOAD")))


def test_unaudited_sixth_distinct_posting_user_reaches_the_cap(make_emulator):
    users = [EmulatedUser(f"user-{i}", f"union-{i}", f"User {i}", f"user{i}", private_account=True)
             for i in range(6)]
    server = make_emulator(mode="unaudited", users=users)
    posters = [Poster(server.url, login(server, u.open_id)) for u in users]
    for poster in posters[:5]:
        poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))
    sixth = posters[5]
    assert error_of(sixth.creator_info()) == (200, "reached_active_user_cap")
    assert error_of(sixth.video_init(direct_body(OK_SOURCE))) == (403, "reached_active_user_cap")
    sixth.ok_data(sixth.inbox_init({"source_info": OK_SOURCE}))  # drafts are not capped
    posters[0].ok_data(posters[0].video_init(direct_body(OK_SOURCE)))  # one of the five posts again
    server.state.advance(86_401)
    sixth = Poster(server.url, login(server, users[5].open_id))
    sixth.ok_data(sixth.video_init(direct_body(OK_SOURCE)))  # a new 24 h window


def test_audited_app_has_no_active_user_cap(make_emulator):
    users = [EmulatedUser(f"user-{i}", f"union-{i}", f"User {i}", f"user{i}") for i in range(6)]
    server = make_emulator(users=users)
    for user in users:
        poster = Poster(server.url, login(server, user.open_id))
        poster.ok_data(poster.video_init(direct_body(OK_SOURCE, "PUBLIC_TO_EVERYONE")))


# ---- control endpoints ----

def test_mode_switches_at_runtime(emulator, remote):
    assert remote.set_mode("unaudited") == {"mode": "unaudited", "sandbox_targets": None}
    ada = Poster(emulator.url, login(emulator, ADA))
    assert error_of(ada.video_init(direct_body(OK_SOURCE))) == (403, UNAUDITED)
    assert remote.set_mode("sandbox") == {"mode": "sandbox", "sandbox_targets": [ADA, BO]}
    assert consent(emulator, CY)[1].query["error"] == "non_sandbox_target"
    assert remote.set_mode("sandbox", sandbox_targets=[CY])["sandbox_targets"] == [CY]
    assert consent(emulator, ADA)[1].query["error"] == "non_sandbox_target"
    assert remote.set_mode("audited") == {"mode": "audited", "sandbox_targets": None}
    assert "code" in consent(emulator, ADA)[1].query
    ada.ok_data(ada.video_init(direct_body(OK_SOURCE, "PUBLIC_TO_EVERYONE")))
    assert remote.state()["client"]["mode"] == "audited"


@pytest.mark.parametrize("body", [{"mode": "beta"}, {}, {"mode": "sandbox", "sandbox_targets": "x"},
                                  {"mode": "audited", "other": 1}, None])
def test_bad_mode_requests_are_refused_and_change_nothing(emulator, remote, body):
    response = requests.post(emulator.url + "/_emulator/mode", json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"]
    assert remote.mode()["mode"] == "audited"


def test_a_legacy_sandbox_can_be_switched_to_audited(make_emulator):
    server = make_emulator(sandbox_targets=[BO])
    remote = EmulatorRemote(server.url)
    assert remote.mode() == {"mode": "sandbox", "sandbox_targets": [BO]}
    assert consent(server, ADA)[1].query["error"] == "non_sandbox_target"
    remote.set_mode("audited")
    assert "code" in consent(server, ADA)[1].query


def test_account_privacy_control(emulator, remote):
    assert remote.set_private(ADA) is True
    ada = creator(emulator, ADA)
    assert ada["privacy_level_options"] == PRIVATE_OPTIONS and ada["duet_disabled"] and ada["stitch_disabled"]
    remote.set_mode("unaudited")
    poster = Poster(emulator.url, login(emulator, ADA))
    poster.ok_data(poster.video_init(direct_body(OK_SOURCE)))  # now private: an unaudited app may post SELF_ONLY
    assert remote.set_private(ADA, False) is False
    assert error_of(poster.video_init(direct_body(OK_SOURCE))) == (403, UNAUDITED)
    assert creator(emulator, ADA)["privacy_level_options"] == PUBLIC_OPTIONS
    missing = requests.post(emulator.url + "/_emulator/users/nobody/privacy", json={"private": True}, timeout=10)
    bad = requests.post(emulator.url + f"/_emulator/users/{ADA}/privacy", json={"private": "yes"}, timeout=10)
    assert (missing.status_code, bad.status_code) == (404, 400)


# ---- the stuck-forever post ----

def test_stuck_post_never_reaches_a_terminal_state_and_gives_no_reason(make_emulator, tmp_path, clip):
    server = make_emulator(media_dir=str(tmp_path / "media"), processing_polls=1)
    remote = EmulatorRemote(server.url)
    assert remote.stick_next_posts() == 1 and remote.state()["posting"]["stuck_next"] == 1
    poster = Poster(server.url, login(server, ADA))
    size = clip.stat().st_size
    publish_ids = []
    for _ in range(2):
        data = poster.ok_data(poster.video_init(direct_body(file_source(size), "PUBLIC_TO_EVERYONE")))
        assert put_chunk(data["upload_url"], clip.read_bytes(), 0, size).status_code == 201
        publish_ids.append(data["publish_id"])
    stuck, normal = publish_ids
    assert poster.until_terminal(normal)["status"] == "PUBLISH_COMPLETE"  # the fault hit the first post only
    for _ in range(12):  # far more polls than processing_polls, and days of emulated time
        data = poster.ok_data(poster.status(stuck))
        assert data == {"status": "PROCESSING_UPLOAD", "publicaly_available_post_id": [], "uploaded_bytes": size}
        server.state.advance(3 * 3600)
        poster = Poster(server.url, login(server, ADA))  # tokens live 2 h: a fresh one each round
    post = next(p for p in remote.state()["posts"] if p["publish_id"] == stuck)
    assert post["stuck"] and post["fail_reason"] is None and post["transfer_done"]
    assert remote.state()["posting"]["stuck_next"] == 0


def test_stuck_fault_rejects_a_bad_count(emulator):
    response = requests.post(emulator.url + "/_emulator/posts/stick_next", json={"times": 0}, timeout=10)
    assert response.status_code == 400


# ---- the command line ----

@pytest.mark.slow
def test_command_line_mode_sets_the_apps_mode():
    process = subprocess.Popen([sys.executable, "-m", "tiktok.emulator", "--port", "0", "--mode", "sandbox"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[0].rsplit(" ", 1)[1].strip()
        assert EmulatorRemote(url).mode() == {"mode": "sandbox", "sandbox_targets": [ADA, BO]}
        assert "app mode: sandbox\n" in lines and f"sandbox target users: {ADA}, {BO}\n" in lines
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [(["--mode", "unaudited", "--sandbox-user", BO], "--mode sandbox"),
                                         (["--mode", "beta"], "--mode")])
def test_command_line_refuses_a_bad_mode(args, words):
    result = subprocess.run([sys.executable, "-m", "tiktok.emulator", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and words in result.stderr
