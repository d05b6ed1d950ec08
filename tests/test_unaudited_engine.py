"""The posting engine (CLI, cron, --watch, workers) for an app TikTok has not audited (issue 25, item 1): real runs over
loopback HTTP against the emulator in unaudited mode.

An unaudited app's Direct Post goes only from a private account as SELF_ONLY (TikTok's
``unaudited_client_can_only_post_to_private_accounts``), and only 5 accounts may post through the app in 24 hours
(``reached_active_user_cap``): the publisher stops what TikTok would refuse before the init, in TikTok's words, with the
code in the details. Inbox drafts are not Direct Posts and go. The shipped default (no TIKTOK_APP_MODE, nothing
detected) posts a public account's public post as before.
"""

from __future__ import annotations

import time

import pytest

from tiktok.posting.budget import usage as budget_usage
from tiktok.setup_checks import posting_users
from tiktok.emulator.config import EmulatorConfig, default_users, generated_users
from tiktok.store.sqlite import open_sqlite
from tiktok.words import WORDS
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.test_posting_e2e import SCOPES, Harness
from tests.test_upload_cli import link, run, write_manifest

ADA, BO, CY = (u.open_id for u in default_users())  # Ada and Bo public, Cy private
MORE = [u.open_id for u in generated_users(5)]  # public until made private
INIT_PATHS = ("/v2/post/publish/video/init/", "/v2/post/publish/inbox/video/init/",
              "/v2/post/publish/content/init/")
UNAUDITED = "unaudited_client_can_only_post_to_private_accounts"
CAP = "reached_active_user_cap"
UNAUDITED_EMULATOR = EmulatorConfig(mode="unaudited", users=[*default_users(), *generated_users(5)])


def inits(remote) -> list[dict]:
    return [r for r in remote.requests() if r["path"] in INIT_PATHS]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("unaudited-clips") / "clip.mp4")


@pytest.fixture
def harness(emulator, remote, tmp_path):
    posts = open_sqlite(tmp_path / "tiktok.db")
    yield Harness(emulator, remote, tmp_path, posts)
    posts.close()


# -- a CLI run, as cron runs it -------------------------------------------------------------------------------------

@pytest.mark.slow  # upload_to_tiktok.py in its own process
@pytest.mark.parametrize("emulator_config", [UNAUDITED_EMULATOR])
def test_cli_run_stops_a_public_accounts_direct_post_before_any_init(tmp_path, emulator, remote, clip):
    link(tmp_path, emulator, users=(ADA,))
    write_manifest(tmp_path, [{"user_id": ADA, "video_path": str(clip), "privacy": "PUBLIC_TO_EVERYONE"}])
    done = run(tmp_path, emulator, TIKTOK_APP_MODE="unaudited")
    assert done.returncode == 1, done.stdout + done.stderr  # failed: a person must change something
    out = done.stdout
    assert "FAILED" in out and WORDS[UNAUDITED] in out, out  # TikTok's reason in plain words
    assert "@ada.creates is public; make it private" in out and '"draft": true' in out, out  # what to do
    assert f"(code {UNAUDITED}; app mode unaudited (TIKTOK_APP_MODE))" in out, out  # the code in the details
    assert inits(remote) == [] and remote.state()["posts"] == []  # nothing reached TikTok's init


@pytest.mark.slow
def test_shipped_default_posts_a_public_accounts_public_post_as_before(tmp_path, emulator, remote, clip):
    assert remote.mode()["mode"] == "audited"
    link(tmp_path, emulator, users=(ADA,))
    write_manifest(tmp_path, [{"user_id": ADA, "video_path": str(clip), "privacy": "PUBLIC_TO_EVERYONE"}])
    done = run(tmp_path, emulator)  # no TIKTOK_APP_MODE, nothing detected
    assert done.returncode == 0, done.stdout + done.stderr
    (post,) = remote.state()["posts"]
    assert post["privacy_level"] == "PUBLIC_TO_EVERYONE"


# -- the publisher in unaudited mode --------------------------------------------------------------------------------

@pytest.mark.parametrize("emulator_config", [UNAUDITED_EMULATOR])
def test_private_account_as_self_only_posts_and_other_privacy_is_stopped(harness, remote, clip):
    wider = harness.post([{"user_id": CY, "video_path": str(clip), "privacy": "FOLLOWER_OF_CREATOR"}],
                         app_mode="unaudited")
    assert (wider[0].status, wider[0].error_code) == ("failed", UNAUDITED)
    assert "the privacy is FOLLOWER_OF_CREATOR: choose SELF_ONLY" in wider[0].detail
    assert inits(remote) == []
    (only_me,) = harness.post([{"user_id": CY, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "2"}],
                              app_mode="unaudited")
    assert (only_me.status, only_me.state) == ("done", "posted"), only_me
    assert [p["privacy_level"] for p in remote.state()["posts"]] == ["SELF_ONLY"]


@pytest.mark.parametrize("emulator_config", [UNAUDITED_EMULATOR])
def test_an_inbox_draft_of_a_public_account_goes(harness, remote, clip):
    (draft,) = harness.post([{"user_id": ADA, "video_path": str(clip), "draft": True}], app_mode="unaudited")
    assert (draft.status, draft.state) == ("done", "inbox"), draft
    assert len(inits(remote)) == 1


@pytest.mark.parametrize("emulator_config", [UNAUDITED_EMULATOR])
def test_a_sixth_account_is_stopped_before_the_call_once_five_others_posted(harness, emulator, remote, clip):
    for open_id in MORE:
        remote.set_private(open_id)
        link_account(emulator.url, harness.tokens, harness.oauth, open_id, scopes=SCOPES)
    # detected, not set: TikTok's earlier answer is what the engine goes by here
    harness.posts.record_app_mode("unaudited", UNAUDITED)
    five = harness.post([{"user_id": open_id, "video_path": str(clip), "privacy": "SELF_ONLY"} for open_id in MORE[:4]]
                        + [{"user_id": CY, "video_path": str(clip), "privacy": "SELF_ONLY"}])
    assert [o.status for o in five] == ["done"] * 5, five
    seen = remote.requests()[-1]["n"]
    (sixth,) = harness.post([{"user_id": MORE[4], "video_path": str(clip), "privacy": "SELF_ONLY"}])
    assert (sixth.status, sixth.error_code, sixth.log_id) == ("try_later", CAP, None), sixth  # this tool's stop
    assert sixth.detail.startswith(WORDS[CAP] + " (5 other accounts posted through it in the last 24 hours")
    assert f"code {CAP}; app mode unaudited (TikTok answered {UNAUDITED} earlier)" in sixth.detail
    assert [r["path"] for r in remote.requests(after=seen) if r["path"].startswith("/v2/post/")] == []  # no call
    (again,) = harness.post([{"user_id": CY, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "2"}])
    assert again.status == "done", again  # one of the five may post again the same day
    # what `doctor` and the Setup page read from the store: the five accounts, and Cy's two posts of the day
    usage = budget_usage(harness.posts, [*MORE, CY], time.time())
    assert usage.posting_users == {*MORE[:4], CY}
    assert usage.budgets[CY].direct.used == 2 and usage.budgets[MORE[4]].direct.used == 0
    check = posting_users(usage.posting_users, usage.user_cap)
    assert check.verdict == "problem" and check.sentence.startswith("5 of the 5 accounts"), check
