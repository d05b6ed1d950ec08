"""The TikTok app's mode in the client (issue 25, item 1), over real loopback HTTP against the emulator in each mode.

TIKTOK_APP_MODE (sandbox, unaudited, audited, or empty: found out) decides what the composer offers; an unaudited
app's Direct Post for a public account is stopped before any call with TikTok's reason; TikTok's first
``unaudited_client_can_only_post_to_private_accounts`` or ``non_sandbox_target`` is kept in the post store and the
app says so; the setting wins over what was detected. The shipped default (empty setting, audited emulator) offers
every privacy level, as before.
"""

from __future__ import annotations

import html
import logging

import pytest

from tiktok.config import ConfigError, load_settings
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.composition import unaudited_reason
from tiktok.posting.policy import app_mode
from tiktok.web.queue_runner import runner_of
from tests.support.flows import link_account
from tests.test_composer_web import SCOPES, WAIT_S, Composer, Page, valid_form
from tests.media_fixtures import make_video

ADA, BO, CY = (u.open_id for u in default_users())  # Ada and Bo public, Cy private (and not a sandbox target)
INIT = "/v2/post/publish/video/init/"
UNAUDITED = "unaudited_client_can_only_post_to_private_accounts"
EVERY_PUBLIC = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
SANDBOX_WORDS = ("This TikTok app is in sandbox mode: only the target users added in TikTok's developer portal can "
                 "log in")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("mode-clips") / "clip.mp4")


def composer_for(serve_app, emulator, oauth, store, tmp_path, **settings: str) -> Composer:
    for open_id in (ADA, CY):
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"),
                       **settings)
    return Composer(served, tmp_path)


def privacy_offered(composer: Composer, open_id: str) -> list[str]:
    page = Page(composer.page(open_id).text)
    return [option["value"] for option in page.options["privacy"][1:]]


def init_calls(remote) -> int:
    return sum(1 for request in remote.requests() if request["path"] == INIT)


# -- the setting ---------------------------------------------------------------------------------------------------

def test_the_setting_is_empty_by_default_and_checked():
    assert load_settings({}).tiktok.app_mode is None
    assert load_settings({"TIKTOK_APP_MODE": "Unaudited"}).tiktok.app_mode == "unaudited"
    with pytest.raises(ConfigError) as bad:
        load_settings({"TIKTOK_APP_MODE": "production"})
    assert "TIKTOK_APP_MODE='production'" in str(bad.value) and "sandbox, unaudited, audited" in str(bad.value)


def test_the_setting_wins_over_what_was_detected():
    detected = {"mode": "unaudited", "code": UNAUDITED, "at": 1.0}
    assert app_mode(None, None) == (None, "unknown", None)
    assert app_mode(None, detected) == ("unaudited", "detected", UNAUDITED)
    assert app_mode("audited", detected) == ("audited", "setting", None)


# -- audited: everything as today (the shipped default) ------------------------------------------------------------

def test_shipped_default_offers_every_option_and_says_nothing_of_a_mode(serve_app, emulator, oauth, store, tmp_path):
    composer = composer_for(serve_app, emulator, oauth, store, tmp_path)
    assert composer.settings.tiktok.app_mode is None
    page = Page(composer.page(ADA).text)
    assert [o["value"] for o in page.options["privacy"][1:]] == EVERY_PUBLIC
    assert "privacy-mode-note" not in page.ids
    assert "app-mode" not in Page(composer.web.get("/").text).ids


# -- unaudited -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_unaudited_offers_only_only_me_and_says_why_in_tiktoks_words(serve_app, emulator, oauth, store, tmp_path):
    composer = composer_for(serve_app, emulator, oauth, store, tmp_path, TIKTOK_APP_MODE="unaudited")
    for open_id in (ADA, CY):
        assert privacy_offered(composer, open_id) == ["SELF_ONLY"]
    public = Page(composer.page(ADA).text)
    note = html.unescape(public.text("privacy-mode-note"))
    assert unaudited_reason() in note and "This account is public" in note and "Send to inbox" in note
    private = html.unescape(Page(composer.page(CY).text).text("privacy-mode-note"))
    assert unaudited_reason() in private and "This account is public" not in private
    line = html.unescape(Page(composer.web.get("/").text).text("app-mode"))
    assert line.startswith("This TikTok app is unaudited (TIKTOK_APP_MODE says so)")


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_unaudited_stops_a_public_accounts_direct_post_before_any_call_and_keeps_the_inbox(
        serve_app, emulator, oauth, store, tmp_path, remote, clip):
    composer = composer_for(serve_app, emulator, oauth, store, tmp_path, TIKTOK_APP_MODE="unaudited")
    composer.page(ADA)
    media_id = composer.upload(clip, ADA).json()["media_id"]
    before, calls = composer.state(), init_calls(remote)
    refused = composer.post(**valid_form(media_id, ADA))  # "Only me", as offered: Ada's account is public
    assert refused.status_code == 400 and "privacy" in Page(refused.text).errors()
    text = html.unescape(refused.text)
    assert unaudited_reason() in text and UNAUDITED in text and "Send to inbox as a draft" in text
    assert composer.state() == before and init_calls(remote) == calls and remote.state()["posts"] == []
    form = valid_form(media_id, ADA, action="inbox")
    del form["privacy"]
    assert composer.post(**form).status_code == 302  # the way to publish publicly
    assert runner_of(composer.app).join(WAIT_S)
    (made,) = remote.state()["posts"]
    assert made["status"] == "SEND_TO_USER_INBOX"


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_unaudited_posts_only_me_to_a_private_account(serve_app, emulator, oauth, store, tmp_path, remote, clip):
    composer = composer_for(serve_app, emulator, oauth, store, tmp_path, TIKTOK_APP_MODE="unaudited")
    composer.page(CY)
    media_id = composer.upload(clip, CY).json()["media_id"]
    wider = composer.post(**valid_form(media_id, CY, privacy="FOLLOWER_OF_CREATOR"))  # a hand-made request
    assert wider.status_code == 400 and unaudited_reason() in html.unescape(wider.text)
    form = valid_form(media_id, CY)
    del form["allow_comment"]
    assert composer.post(**form).status_code == 302
    assert runner_of(composer.app).join(WAIT_S)
    (made,) = remote.state()["posts"]
    assert made["status"] == "PUBLISH_COMPLETE" and made["privacy_level"] == "SELF_ONLY"


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_tiktoks_first_unaudited_refusal_is_detected_kept_and_shown(serve_app, emulator, oauth, store, tmp_path,
                                                                     remote, clip, caplog):
    composer = composer_for(serve_app, emulator, oauth, store, tmp_path)  # TIKTOK_APP_MODE left empty
    assert privacy_offered(composer, ADA) == EVERY_PUBLIC  # nothing known yet: as audited
    media_id = composer.upload(clip, ADA).json()["media_id"]
    with caplog.at_level(logging.WARNING):
        assert composer.post(**valid_form(media_id, ADA, privacy="PUBLIC_TO_EVERYONE")).status_code == 302
        assert runner_of(composer.app).join(WAIT_S)
    (post,) = composer.posts()
    ended = composer.store.get(post.id)
    assert ended.state == "failed" and UNAUDITED in ended.record.error  # TikTok refused it: nothing else told us
    kept = composer.store.detected_app_mode()
    assert kept["mode"] == "unaudited" and kept["code"] == UNAUDITED
    assert any("this TikTok app is unaudited" in r.getMessage() for r in caplog.records)
    assert privacy_offered(composer, ADA) == ["SELF_ONLY"]
    line = html.unescape(Page(composer.web.get("/").text).text("app-mode"))
    assert line.startswith(f"This TikTok app is unaudited (detected: TikTok answered {UNAUDITED})")
    audited = serve_app(MANIFEST_FILE=str(tmp_path / "m2.json"), MEDIA_DIR=str(tmp_path / "media"),
                        TIKTOK_APP_MODE="audited")  # the same store: the setting wins over what was detected
    page = Page(audited.client().get(f"/posts/new?open_id={ADA}").text)
    assert [o["value"] for o in page.options["privacy"][1:]] == EVERY_PUBLIC


# -- sandbox -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="sandbox")])
def test_sandbox_refuses_a_non_target_at_login_with_a_clear_page_and_keeps_the_mode(app_under_test, web, caplog):
    with caplog.at_level(logging.WARNING):
        refused = web.login(open_id=CY)  # Cy is not one of the sandbox's target users
    text = html.unescape(refused.text)
    assert refused.status_code == 400 and SANDBOX_WORDS in text and "non_sandbox_target" in text
    assert "Nothing was saved" in text and not app_under_test.tokens_path.exists()
    from tiktok.web.post_store import store_of
    assert store_of(app_under_test.flask_app).detected_app_mode()["mode"] == "sandbox"
    assert any("this TikTok app is sandbox" in r.getMessage() for r in caplog.records)
    assert web.login(open_id=ADA).status_code == 302  # a target user logs in
    line = html.unescape(Page(web.get("/").text).text("app-mode"))
    assert line.startswith("This TikTok app is sandbox (detected: TikTok answered non_sandbox_target)")


# -- the app's built-in emulator -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("setting, mode", [("", "audited"), ("sandbox", "sandbox"), ("unaudited", "unaudited")])
def test_the_built_in_emulator_runs_in_the_apps_mode(tmp_path, setting, mode):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.test_app_emulated_mode import free_port, wait_until_up
    from tiktok.emulator import EmulatorRemote

    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port),
           "TIKTOK_EMULATOR_PORT": str(emulator_port), "TIKTOK_APP_MODE": setting}
    app = Path(__file__).resolve().parents[1] / "app.py"
    proc = subprocess.Popen([sys.executable, str(app)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", proc)
        assert EmulatorRemote(f"http://127.0.0.1:{emulator_port}").mode()["mode"] == mode
    finally:
        proc.terminate()
        proc.wait(timeout=10)
