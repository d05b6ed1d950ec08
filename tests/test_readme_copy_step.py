"""The README's first step, done in a folder where the app has been in use, loses nothing the app composed.

The README says ``cp videos_to_upload.json.example videos_to_upload.json``. A person who composed posts in the app
first (one posted, one scheduled, one failed, one retried until it posted) and only then follows that step must
find every one of them on the Posts page as it was, with its history, after the app's runner imports the copied
file; and again after they empty the file (``[]``). Everything runs over loopback HTTP: the app (conftest's
``serve_app``), its composer and runner, and the TikTok emulator.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import kick, runner_of
from tests.media_fixtures import make_video
from tests.support.uploads import SliceClient
from tests.test_posts_page import cards_of

pytestmark = pytest.mark.slow  # a whole story through the app, its runner and the emulator

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
ZONE = "Europe/Berlin"
WAIT_S = 30.0  # only ever reached when the runner is broken


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # the runner's first status fetch is final


class AppFolder:
    """The app run from a folder (its manifest there), Ada linked through the app's own login."""

    def __init__(self, serve_app, emulator, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.manifest = folder / "videos_to_upload.json"
        self.served = serve_app(MANIFEST_FILE=str(self.manifest), MEDIA_DIR=str(folder / "media"))
        self.app = self.served.flask_app
        self.emulator = emulator
        self.web = self.served.client()
        assert self.web.login(open_id=ADA).status_code == 302
        self.store = store_of(self.app)

    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.web.get("/posts/new").text).group(1)

    def compose(self, video: Path, description: str, **form: str) -> int:
        """Upload ``video`` and post the composer's form as a browser would; the new post's id."""
        token = self.csrf()
        media = SliceClient(self.web.url, self.web.http, token).upload(video, ADA).json()
        fields = {"csrf": token, "open_id": ADA, "source": "upload", "media_id": media["media_id"],
                  "media_name": media["original_name"], "description": description, "privacy": "PUBLIC_TO_EVERYONE",
                  "allow_comment": "on", "action": "now", **form}
        answer = self.web.http.post(f"{self.web.url}/posts/new", data=fields, allow_redirects=False, timeout=15)
        assert answer.status_code == 302, answer.text[:800]
        return max(post.id for post in self.store.every_post())

    def tick(self) -> None:
        """What the app's tick does every QUEUE_TICK_S: one run (import the manifest, post what is due)."""
        kick(self.app)
        assert runner_of(self.app).join(WAIT_S), "the app's posting run did not end"

    def retry(self, post_id: int) -> None:
        token = self.csrf()
        answer = self.web.http.post(f"{self.web.url}/posts/{post_id}/retry", data={"csrf": token}, timeout=15)
        assert answer.status_code == 200 and "will be posted again" in answer.text
        assert runner_of(self.app).join(WAIT_S)

    def fail_next_post(self) -> None:
        requests.post(self.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": "spam_risk_text"},
                      timeout=10).raise_for_status()

    def board(self) -> dict[int, tuple]:
        """Each card as a person reads it: state, group, its link and its words."""
        page = self.web.get("/posts/")
        assert page.status_code == 200, page.text[:500]
        return {c.id: (c.state, c.group, c.link("post-link"), c.text) for c in cards_of(page.text)}


@pytest.fixture
def app_folder(serve_app, emulator, tmp_path) -> AppFolder:
    return AppFolder(serve_app, emulator, tmp_path / "tiktok-tool")


def composed_posts(app: AppFolder, remote, tmp_path) -> dict[str, int]:
    """A posted, a scheduled, a failed and a retried post, all composed and run in the app."""
    clip = make_video(tmp_path / "holiday.mp4")
    posted = app.compose(clip, "Posted from the app")
    assert runner_of(app.app).join(WAIT_S)
    app.fail_next_post()
    retried = app.compose(clip, "Refused once, then posted")
    assert runner_of(app.app).join(WAIT_S)
    app.retry(retried)
    app.fail_next_post()
    failed = app.compose(clip, "Refused and left for later")
    assert runner_of(app.app).join(WAIT_S)
    tomorrow = datetime.fromtimestamp(app.served.clock() + 86400, ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    scheduled = app.compose(clip, "For tomorrow", action="schedule", post_at_local=tomorrow, zone=ZONE)
    states = {name: app.store.get(post_id).state for name, post_id in
              {"posted": posted, "retried": retried, "failed": failed, "scheduled": scheduled}.items()}
    assert states == {"posted": "posted", "retried": "posted", "failed": "failed", "scheduled": "queued"}
    assert sorted(p["status"] for p in remote.state()["posts"]) == ["FAILED", "FAILED", "PUBLISH_COMPLETE",
                                                                     "PUBLISH_COMPLETE"]
    return {"posted": posted, "retried": retried, "failed": failed, "scheduled": scheduled}


def history(app: AppFolder, ids: dict[str, int]) -> dict[str, tuple]:
    """What must survive: each post's state, revision, schedule, record and earlier attempts."""
    return {name: (post.state, post.revision, post.due_at, post.record, app.store.attempts(post_id))
            for name, post_id in ids.items() for post in [app.store.get(post_id)]}


def test_copying_the_example_manifest_keeps_every_composed_post_and_its_history(app_folder, remote, tmp_path):
    ids = composed_posts(app_folder, remote, tmp_path)
    before_board, before_history = app_folder.board(), history(app_folder, ids)
    assert before_board[ids["scheduled"]][:2] == ("scheduled", "upcoming")
    assert before_board[ids["posted"]][0] == "posted" and before_board[ids["posted"]][2]
    assert "spam_risk_text" in before_board[ids["failed"]][3] and "log_id" in before_board[ids["failed"]][3]
    assert len(before_history["retried"][4]) == 1  # its failed attempt, kept
    emulated_posts = remote.state()["posts"]

    shutil.copy(ROOT / "videos_to_upload.json.example", app_folder.manifest)  # the README's step, in this folder
    app_folder.tick()
    after = app_folder.board()
    assert {i: after[i] for i in before_board} == before_board  # every composed card exactly as it was
    assert history(app_folder, ids) == before_history
    imported = [post for post in app_folder.store.every_post() if post.origin == "manifest"]
    assert len(imported) == 4 and {p.source for p in imported} == {str(app_folder.manifest.resolve())}
    assert set(after) - set(before_board) <= {p.id for p in imported}  # the example's posts join them
    assert remote.state()["posts"] == emulated_posts  # its made-up accounts post nothing anywhere

    app_folder.manifest.write_text("[]\n")  # and then the person empties it
    app_folder.tick()
    emptied = app_folder.board()
    assert {i: emptied[i] for i in before_board} == before_board
    assert history(app_folder, ids) == before_history
    left = {p.id: p.state for p in app_folder.store.every_post() if p.origin == "manifest"}
    assert set(emptied) - set(before_board) == {i for i, state in left.items() if state != "withdrawn"}
    assert "withdrawn" in left.values()  # what had not started left with the file; nothing composed did
    assert remote.state()["posts"] == emulated_posts
