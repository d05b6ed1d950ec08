"""Accounts named by ``@name`` as well as open_id (issue 26 item 8): the one resolver (tiktok.auth.names) as a table,
then the commands as a user runs them (real ``python -m tiktok`` processes against the emulator on loopback) and the
composer's account picker over real HTTP. Also issue 26 item 9: ``transcribe`` reads each share page once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.support.flows import link_account
from tests.test_composer_web import Composer, Page, valid_form
from tests.media_fixtures import make_video
from tiktok.auth.names import UnknownAccountName, resolve_account, resolve_accounts
from tiktok.emulator.config import default_users
from tiktok.exitcodes import ExitStatus, status_for
from tiktok.transcription.store import TranscriptStore

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = default_users()[:3]
REPORT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")
POST_SCOPES = ("user.info.basic", "video.publish", "video.upload")


@dataclass(frozen=True)
class Acct:
    open_id: str
    username: str


ACCOUNTS = [Acct("oid-ada", "ada.creates"), Acct("oid-bo", "bo_tests"), Acct("@cy.private", "cy"),
            Acct("oid-nameless", "")]


# -- the rule -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("oid-ada", "oid-ada"),            # an open_id is itself
    ("@ada.creates", "oid-ada"),       # an @name is its account
    ("@ADA.Creates", "oid-ada"),       # in any case
    ("@cy.private", "@cy.private"),    # an exact open_id wins over the @name reading
    ("@CY", "@cy.private"),
    ("oid-unknown", "oid-unknown"),    # not an @name: passed on, the caller's "no such open_id" stands
    ("ada.creates", "ada.creates"),    # a name needs its @
])
def test_the_resolver_rule(given, expected):
    assert resolve_account(given, ACCOUNTS) == expected


def test_an_unknown_name_names_the_option_and_lists_the_known_names():
    with pytest.raises(UnknownAccountName) as caught:
        resolve_account("@nobody", ACCOUNTS, option="--account")
    message = str(caught.value)
    assert message.startswith("--account @nobody: no connected account is called that")
    assert message.endswith("Connected accounts: @ada.creates, @bo_tests, @cy.")
    assert status_for(caught.value) == ExitStatus.BAD_INPUT


def test_an_ambiguous_name_asks_for_the_open_id():
    twins = [*ACCOUNTS, Acct("oid-ada-2", "Ada.Creates")]
    with pytest.raises(UnknownAccountName, match=r"2 connected accounts are called @ada\.creates "
                                                 r"\(open_ids oid-ada, oid-ada-2\): give the open_id") as caught:
        resolve_account("@ada.creates", twins)
    assert caught.value.matches == ("oid-ada", "oid-ada-2")
    assert resolve_account("oid-ada-2", twins) == "oid-ada-2"  # the open_id still works


def test_many_values_keep_their_order_and_name_each_account_once():
    assert resolve_accounts(["@bo_tests", "oid-ada", "@Ada.creates"], ACCOUNTS) == ["oid-bo", "oid-ada"]
    assert "none has an @name yet" in str(pytest.raises(UnknownAccountName, resolve_account, "@x",
                                                        [Acct("oid", "")]).value)


# -- the commands, as processes --------------------------------------------------------------------------------------

@pytest.fixture
def named(emulator, store, oauth):
    """``named(user, scopes)``: connect the emulated user with their @name kept, as the app keeps it after login."""
    def link(user, scopes=REPORT_SCOPES):
        account = link_account(emulator.url, store, oauth, user.open_id, scopes=scopes)
        store.put(replace(account, username=user.username, display_name=user.display_name))
    return link


@pytest.fixture
def tiktok(emulator, tokens_path, tmp_path):
    """``tiktok(*argv)``: ``python -m tiktok ARGV`` in its own process, configured for the emulator as a user does
    (no other setting: the shipped defaults)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path)}

    def run(*argv: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "tiktok", *argv], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=180, check=False)
        assert emulator.config.client_secret not in result.stdout + result.stderr
        return result
    return run


@pytest.mark.slow
def test_report_takes_an_at_name_in_any_case_and_refuses_an_unknown_one(tiktok, named, tmp_path):
    named(ADA)
    named(BO)
    result = tiktok("report", "--account", "@ADA.creates", "--reports", "out")
    assert result.returncode == 0, result.stdout + result.stderr
    (day,) = (tmp_path / "out").iterdir()
    assert sorted(p.name for p in day.iterdir()) == ["ada.creates.csv", "summary.csv"]  # Ada only, not Bo

    result = tiktok("report", "--account", "@ada.create", "--reports", "none")
    assert result.returncode == 2
    assert ("error: --account @ada.create: no connected account is called that" in result.stderr
            and "Connected accounts: @ada.creates, @bo_tests." in result.stderr), result.stderr
    assert not (tmp_path / "none").exists()


@pytest.mark.slow
def test_refresh_takes_an_at_name(tiktok, named, store):
    named(ADA)
    named(BO)
    before = {a.open_id: a.access_token for a in store.load().values()}
    result = tiktok("refresh", "--all", "--account", "@bo_tests")
    assert result.returncode == 0, result.stdout + result.stderr
    after = {a.open_id: a.access_token for a in store.load().values()}
    assert after[BO.open_id] != before[BO.open_id] and after[ADA.open_id] == before[ADA.open_id]
    assert before[BO.open_id] not in result.stdout + result.stderr


@pytest.mark.slow
def test_transcribe_takes_an_at_name_and_reads_each_share_page_once(tiktok, named, remote, tmp_path):
    named(BO)
    first = remote.requests()[-1]["n"]
    result = tiktok("transcribe", "--account", "@Bo_Tests", "--transcripts", "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summary: 3 DONE" in result.stdout
    transcripts = TranscriptStore(tmp_path / "out").list_records()
    assert len(transcripts) == 3 and {r.source for r in transcripts} == {"tiktok-captions", "assemblyai"}
    pages = [r["path"] for r in remote.requests(first) if r["path"].startswith("/@bo_tests/video/")]
    assert sorted(pages) == sorted(f"/@bo_tests/video/{r.video_id}" for r in transcripts)  # one read per video
    media = [r["path"] for r in remote.requests(first) if r["path"].startswith("/_emulator/media/")]
    assert len(media) == 2  # the two uncaptioned videos downloaded, each once

    result = tiktok("transcribe", "--account", "@nobody", "--transcripts", "out")
    assert result.returncode == 2 and "--account @nobody" in result.stderr and "@bo_tests" in result.stderr


@pytest.mark.slow
def test_post_takes_an_at_name_and_posts_only_that_accounts_posts(tiktok, named, remote, tmp_path):
    named(ADA, POST_SCOPES)
    named(BO, POST_SCOPES)
    clip = make_video(tmp_path / "clip.mp4")
    manifest = tmp_path / "videos_to_upload.json"
    manifest.write_text(json.dumps([
        {"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "Ada's"},
        {"user_id": BO.open_id, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "Bo's"}]))
    result = tiktok("post", "--account", "@BO_TESTS", "--json", "--poll-interval", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = json.loads(result.stdout)["outcomes"]
    assert [(o["status"], o["user_id"]) for o in outcomes] == [("done", BO.open_id)]
    assert [p["open_id"] for p in remote.state()["posts"]] == [BO.open_id]  # nothing sent for Ada

    result = tiktok("post", "--account", "@nobody")
    assert result.returncode == 2
    assert "error: --account @nobody: no connected account is called that" in result.stdout, result.stdout
    assert [p["open_id"] for p in remote.state()["posts"]] == [BO.open_id]

    result = tiktok("post", "--account", "@ada.creates", "--poll-interval", "0.01")  # the other one, by name
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p["open_id"] for p in remote.state()["posts"]) == sorted([ADA.open_id, BO.open_id])


# -- the composer's picker, over HTTP ------------------------------------------------------------------------------

@pytest.fixture
def composer(serve_app, named, tmp_path) -> Composer:
    for user in (ADA, BO):
        named(user, POST_SCOPES)
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    return Composer(served, tmp_path)


@pytest.mark.slow
def test_the_composer_picks_an_account_by_its_at_name(composer, tmp_path):
    page = composer.page("@BO_tests")
    assert page.status_code == 200
    assert [o["value"] for o in Page(page.text).options["account"] if "selected" in o] == [BO.open_id]

    unknown = composer.page("@nobody")
    assert unknown.status_code == 404
    text = re.sub(r"\s+", " ", unknown.text)
    assert "Account @nobody: no connected account is called that" in text
    assert "Connected accounts: @ada.creates, @bo_tests." in text

    clip = make_video(tmp_path / "bread.mp4")
    media_id = composer.upload(clip, BO.open_id).json()["media_id"]
    response = composer.post(**valid_form(media_id, "@bo_tests", action="schedule",
                                          post_at_local="2031-01-01T09:00", zone="Europe/Berlin"))
    assert response.status_code == 302, response.text
    (post,) = composer.posts()
    assert post.entry["user_id"] == BO.open_id  # stored by open_id whatever the picker sent

    refused = composer.post(**valid_form(media_id, "@nobody"))
    assert refused.status_code == 400 and "Nothing was added" in refused.text
    assert len(composer.posts()) == 1
