"""Never a post twice, whatever runs at once, on SQLite and on PostgreSQL (``store_kind``): real processes.

- Two ``upload_to_tiktok.py`` started together on one manifest, three rounds: every post made once.
- The app's background runner, a CLI run and Posts-page actions at the same time: every post made at most once,
  a cancelled post never, a post the page could not cancel (it had started) made once.
- A run SIGKILLed in the middle of an upload: the next run takes its claim over and finishes it with no second
  init, the bytes identical.
- A post another live run holds is skipped (exit 4, try later) and not touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.config import load_settings
from tiktok.emulator.config import default_users
from tiktok.store.base import open_token_store
from tiktok.store.records import entry_key
from tests.emulator.posting_helpers import make_image, start_media_host
from tests.media_fixtures import make_video
from tests.support.flows import WebClient, link_account
from tests.support.posting import padded_video, sha256_file
from tests.support.stores import make_store

pytestmark = pytest.mark.slow  # runs racing in real processes

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")


class Place:
    """A folder with linked accounts and the environment that gives commands this test's store."""

    def __init__(self, emulator, folder: Path, store_env: dict[str, str]) -> None:
        self.emulator, self.folder = emulator, folder
        self.env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT),
                    "TIKTOK_CLIENT_KEY": emulator.config.client_key,
                    "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                    "TOKENS_FILE": str(folder / "user_tokens.json"), **store_env}
        self.settings = load_settings(self.env)
        oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                            client_secret=emulator.config.client_secret)
        tokens = open_token_store(self.settings)
        for open_id in (ADA, BO):
            link_account(emulator.url, tokens, oauth, open_id, scopes=SCOPES)

    def upload(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--json",
                                 "--poll-interval", "0.01", *args], cwd=self.folder, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    clip = make_video(folder / "clip.mp4")
    files = {"/media/clip.mp4": clip, "/media/clip2.mp4": clip,
             **{f"/photos/{i}.jpg": make_image(folder / f"{i}.jpg", "mjpeg") for i in range(2)}}
    host = start_media_host(files)
    yield clip, host
    host.server.shutdown()


def eight_entries(host_url: str) -> list[dict]:
    return [
        {"user_id": ADA, "video_path": "clip.mp4", "description": "one", "privacy": "SELF_ONLY"},
        {"user_id": ADA, "video_path": "clip.mp4", "description": "two", "privacy": "PUBLIC_TO_EVERYONE"},
        {"user_id": BO, "video_path": "clip.mp4", "description": "three", "privacy": "SELF_ONLY"},
        {"user_id": ADA, "video_url": host_url + "/media/clip.mp4", "description": "four", "privacy": "SELF_ONLY"},
        {"user_id": BO, "video_url": host_url + "/media/clip2.mp4", "description": "five", "privacy": "SELF_ONLY"},
        {"user_id": ADA, "photo_urls": [host_url + "/photos/0.jpg", host_url + "/photos/1.jpg"], "title": "six",
         "description": "photos", "privacy": "SELF_ONLY"},
        {"user_id": ADA, "video_path": "clip.mp4", "description": "seven", "draft": True},
        {"user_id": BO, "video_path": "clip.mp4", "description": "eight", "draft": True},
    ]


def test_two_runs_started_at_once_post_every_post_exactly_once(store_kind, emulator, remote, media, tmp_path,
                                                               request):
    clip, host = media
    emulator.config.verified_url_prefixes.extend([host.url + "/media/", host.url + "/photos/"])
    for round_ in range(3):
        emulator.reset()                        # fresh emulator state (posts, tokens, caps) every round
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        (folder / "clip.mp4").symlink_to(clip)
        made = make_store(store_kind, folder, request, fresh=True)
        made.store.close()
        place = Place(emulator, folder, made.env)
        (folder / "videos_to_upload.json").write_text(json.dumps(eight_entries(host.url)))
        runs = [place.upload() for _ in range(2)]
        finished = [(run.wait(timeout=90), *run.communicate()) for run in runs]
        codes = [code for code, _, _ in finished]
        posts = remote.state()["posts"]
        assert len(posts) == 8 and len({p["publish_id"] for p in posts}) == 8, \
            (round_, codes, [err[-2000:] for _, _, err in finished])
        assert set(codes) <= {0, 4}, (round_, codes, [err[-2000:] for _, _, err in finished])
        reports = [json.loads(out) for _, out, _ in finished]
        done = [o for r in reports for o in r["outcomes"] if o["status"] == "done"]
        assert sorted(o["post_id"] for o in done) == list(range(1, 9))  # each post made by exactly one run
        for code, report in zip(codes, reports):
            assert code == (4 if any(o["state"] == "claimed_elsewhere" for o in report["outcomes"]) else 0)
        store = made.reopen()
        try:
            assert sorted(p.state for p in store.every_post()) == ["inbox"] * 2 + ["posted"] * 6
            assert store.live_claims(list(store.every_post())) == set()
        finally:
            store.close()


def test_the_apps_runner_a_cli_run_and_page_actions_at_once_make_each_post_at_most_once(
        store_kind, emulator, remote, media, tmp_path, request, serve_app):
    clip, _ = media
    (tmp_path / "clip.mp4").symlink_to(clip)
    made = make_store(store_kind, tmp_path, request)
    place = Place(emulator, tmp_path, made.env)
    posts = []
    for n in range(12):
        entry = {"user_id": (ADA, BO)[n % 2], "video_path": str(tmp_path / "clip.mp4"), "description": f"p{n}",
                 "privacy": "SELF_ONLY"}
        posts.append(made.store.add(entry, key=entry_key(entry), due_at=None))
    app = serve_app(TOKENS_FILE=place.env["TOKENS_FILE"], QUEUE_TICK_S="0", **made.env)
    web = app.client()
    from tiktok.web.queue_runner import runner_of
    runner = runner_of(app.flask_app)
    cli = place.upload()
    runner.kick()
    answers = {}
    for post in posts[::3]:  # every third post: the page tries to cancel it while both runs go
        answers[post.id] = web.post_form(f"/posts/{post.id}/cancel", {"revision": str(post.revision)})
    code = cli.wait(timeout=120)
    out, err = cli.communicate()
    assert runner.join(timeout=120)
    assert code in (0, 4), err[-3000:]
    assert all(a.status_code in (200, 302) for a in answers.values())
    made_posts = remote.state()["posts"]
    by_caption: dict[str, int] = {}
    for post in made_posts:
        caption = post["post_info"]["title"] if post.get("post_info") else ""
        by_caption[caption] = by_caption.get(caption, 0) + 1
    assert all(count == 1 for count in by_caption.values()), by_caption
    final = {p.id: p for p in made.store.every_post()}
    for post in posts:
        state, caption = final[post.id].state, f"p{int(post.entry['description'][1:])}"
        if state == "cancelled":
            assert caption not in by_caption, f"post {post.id} was cancelled but also made"
        else:
            assert state == "posted" and by_caption.get(caption) == 1, (post.id, state, err[-2000:])
    assert made.store.live_claims(list(final.values())) == set()
    made.store.close()


def test_a_run_killed_mid_upload_is_finished_by_the_next_with_no_second_init(store_kind, emulator, remote,
                                                                            tmp_path, request):
    made = make_store(store_kind, tmp_path, request)
    made.store.close()
    place = Place(emulator, tmp_path, made.env)
    video = padded_video(tmp_path / "big.mp4", 120_000_000)
    (tmp_path / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": "big.mp4", "description": "killed", "privacy": "SELF_ONLY"}]))
    remote.inject_fault("/upload/video/", delay=0.4, times=50)  # slow chunks: time to kill in the middle
    first = place.upload()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        posts = remote.state()["posts"]
        if posts and 0 < posts[0]["bytes_received"] < 120_000_000:
            break
        time.sleep(0.05)
    else:
        first.kill()
        pytest.fail("the upload never started")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    remote.clear_faults()
    second = place.upload()
    code = second.wait(timeout=120)
    out, err = second.communicate()
    assert code == 0, err[-3000:]
    assert "taking over from a run that stopped" in err and "resuming" in err
    (post,) = remote.state()["posts"]
    assert post["status"] == "PUBLISH_COMPLETE" and post["bytes_received"] == 120_000_000
    assert post["sha256"] == sha256_file(video)


def test_a_post_another_live_run_holds_is_skipped_and_left_alone(store_kind, emulator, remote, tmp_path, request):
    made = make_store(store_kind, tmp_path, request)
    place = Place(emulator, tmp_path, made.env)
    make_video(tmp_path / "clip.mp4")
    entry = {"user_id": ADA, "video_path": str(tmp_path / "clip.mp4"), "description": "held"}
    post = made.store.add(entry, key=entry_key(entry), due_at=None)
    assert made.store.claim(post).holder is None  # another run, in this test's process
    run = place.upload()
    code = run.wait(timeout=60)
    out, err = run.communicate()
    (outcome,) = json.loads(out)["outcomes"]
    assert code == 4 and outcome["state"] == "claimed_elsewhere" and f"pid {os.getpid()}" in outcome["detail"]
    assert remote.state()["posts"] == [] and made.store.get(post.id).record is None
    made.store.release(post)
    again = place.upload()
    assert again.wait(timeout=60) == 0 and len(remote.state()["posts"]) == 1
    made.store.close()
