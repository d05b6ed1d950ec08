"""The /covers/ proxy's map from video id to cover URL outlives the app (issue 26, loose end 2): every listing (the
Videos page, ``transcribe --account``) keeps a row per video in the transcripts folder, a restarted app serves the
covers from those rows without listing the account again, and an expired URL costs one ``video/query`` call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.flows import link_account
from tiktok.emulator.config import default_users
from tiktok.transcription.covermap import MAP_NAME, CoverMap

ADA, BO, _ = default_users()
ROOT = Path(__file__).resolve().parents[1]
LISTING = "/v2/video/list/"
QUERY = "/v2/video/query/"


def catalogue(emulator_url: str, open_id: str) -> list[dict]:
    return requests.get(f"{emulator_url}/_emulator/videos/{open_id}", timeout=10).json()["videos"]


def answered(remote, after: int) -> list[str]:
    """The paths the emulator answered with 200 after request number ``after``."""
    return [r["path"] for r in remote.requests(after=after) if r["status"] == 200]


@pytest.fixture
def folders(tmp_path) -> dict[str, str]:
    """The app's settings as shipped but for its transcripts and cache folders, kept across restarts."""
    return {"TRANSCRIPTS_DIR": str(tmp_path / "transcripts"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_covers_listed_before_a_restart_show_after_it_without_listing_again(serve_app, emulator, remote, store,
                                                                            oauth, folders, tmp_path):
    link_account(emulator.url, store, oauth, ADA.open_id)
    first = serve_app(**folders)
    assert first.client().get(f"/videos/{ADA.open_id}/").status_code == 200  # lists all 25: rows kept
    first.server.shutdown()
    assert len(CoverMap(tmp_path / "transcripts")) == 25
    assert oct((tmp_path / "transcripts" / MAP_NAME).stat().st_mode & 0o777) == "0o600"

    again = serve_app(**folders).client()  # a new process's memory: nothing but the folders
    videos = catalogue(emulator.url, ADA.open_id)
    before = remote.requests()[-1]["n"]
    shown = again.get(f"/covers/{videos[4]['id']}")
    assert shown.status_code == 200 and shown.headers["Content-Type"] == "image/jpeg"
    assert shown.content == requests.get(videos[4]["cover_image_url"], timeout=10).content
    assert LISTING not in answered(remote, before) and QUERY not in answered(remote, before)

    remote.advance_clock(7 * 3600)  # every kept URL is past its 6-hour TTL
    before = remote.requests()[-1]["n"]
    refreshed = again.get(f"/covers/{videos[5]['id']}")
    assert refreshed.status_code == 200 and refreshed.headers["Content-Type"] == "image/jpeg"
    paths = answered(remote, before)
    assert paths.count(QUERY) == 1 and LISTING not in paths  # one video/query for that id, no new listing
    assert again.get(f"/covers/{videos[5]['id']}").headers["X-Cover"] == "cached"  # kept: asked no more
    assert QUERY not in answered(remote, before)[len(paths):]
    assert again.get("/covers/7000000000000000001").status_code == 404  # an id no listing gave: still 404


def test_the_map_keeps_the_newest_listed_rows_up_to_its_bound(tmp_path):
    now = [1000.0]
    kept = CoverMap(tmp_path, max_rows=3, clock=lambda: now[0])
    for n in range(5):
        now[0] += 1
        kept.remember("acct", [(str(n), f"https://p16.example/{n}.jpeg")])
    kept.remember("acct", [("0", "file:///etc/passwd"), ("9", "javascript:alert(1)")])  # never another scheme
    assert len(kept) == 3 and [kept.get(str(n)) is not None for n in range(5)] == [False, False, True, True, True]
    assert kept.get("4").open_id == "acct" and kept.get("4").listed_at == 1005.0 and kept.get("9") is None
    now[0] += 1
    kept.remember("other", [("2", "https://p16.example/2-new.jpeg")])  # listed again: newest, URL replaced
    assert kept.get("2").url.endswith("2-new.jpeg") and kept.get("2").open_id == "other"


def test_an_unwritable_folder_keeps_the_map_in_memory(tmp_path):
    (tmp_path / "transcripts").write_text("a file where the folder should be")
    kept = CoverMap(tmp_path / "transcripts")
    assert kept.remember("acct", [("1", "https://p16.example/1.jpeg")]) == 1
    assert kept.get("1").url == "https://p16.example/1.jpeg" and len(kept) == 1


@pytest.mark.slow  # transcribe as a user runs it, in its own process
def test_transcribe_fills_the_map_so_the_feeds_covers_show_in_an_app_started_later(serve_app, emulator, remote,
                                                                                   store, oauth, tokens_path,
                                                                                   folders, tmp_path):
    link_account(emulator.url, store, oauth, BO.open_id)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), **folders}
    result = subprocess.run([sys.executable, str(ROOT / "transcribe.py"), "--account", BO.open_id],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    web = serve_app(**folders).client()
    before = remote.requests()[-1]["n"]
    feed = web.get("/transcripts/").text
    for video in catalogue(emulator.url, BO.open_id):
        assert f'/covers/{video["id"]}' in feed
        cover = web.get(f"/covers/{video['id']}")
        assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg", video["id"]
    assert LISTING not in answered(remote, before)  # the app never listed Bo's videos
