"""Two runs never post the same entry: claims in the results file (rules with injected pid/clock, the publisher's
use of them, and two real ``upload_to_tiktok.py`` processes started at once on one manifest, ten times)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.posting.results import (
    CLAIM_TIMEOUT_S,
    DONE,
    PENDING_INIT,
    Claim,
    PostRecord,
    ResultsStore,
    claim_is_live,
    entry_key,
    pid_alive,
    process_start_time,
)
from tests.emulator.posting_helpers import make_image, start_media_host
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.test_posting_e2e import Harness

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the rules, with injected pid-alive and clock ------------------------------------------------------------------

def test_claim_rules_as_a_table():
    here = Claim(pid=100, host="h1", started_at=1000.0)
    alive = {100}.__contains__
    assert claim_is_live(here, host="h1", now=1000.0, alive=alive)                      # same host, pid alive
    assert not claim_is_live(here, host="h1", now=1000.0, alive=lambda pid: False)      # same host, pid dead
    assert claim_is_live(here, host="h2", now=1000.0 + CLAIM_TIMEOUT_S - 1, alive=lambda pid: False)  # other host
    assert not claim_is_live(here, host="h2", now=1000.0 + CLAIM_TIMEOUT_S, alive=alive)  # other host, too old
    assert claim_is_live(here, host="h1", now=5000.0, alive=alive, started=lambda pid: 990.0)   # the same process
    assert not claim_is_live(here, host="h1", now=5000.0, alive=alive, started=lambda pid: 4000.0)  # pid reused
    assert claim_is_live(here, host="h1", now=5000.0, alive=alive, started=lambda pid: None)    # unknown: alive
    assert CLAIM_TIMEOUT_S == 6 * 3600


def test_live_claim_blocks_dead_pid_is_taken_over_other_host_times_out(tmp_path):
    path = tmp_path / "videos_to_upload.results.json"
    clock, live = Clock(), {100, 200}
    unknown = lambda pid: None  # noqa: E731 (no process start times: the pid alone decides)
    first = ResultsStore(path, clock=clock, pid=100, host="h1", alive=live.__contains__, started=unknown)
    second = ResultsStore(path, clock=clock, pid=200, host="h1", alive=live.__contains__, started=unknown)
    remote_host = ResultsStore(path, clock=clock, pid=100, host="h2", alive=lambda pid: True, started=unknown)

    assert first.claim("k") == (None, None)
    first.save(PostRecord(key="k", index=0, user_id=ADA, state=PENDING_INIT))
    holder, _ = second.claim("k")
    assert holder == Claim(pid=100, host="h1", started_at=clock.now, owner=first.owner)  # live: nothing changed
    assert first.claims()["k"].pid == 100 and first.claim("k") == (None, None)  # our own claim is ours again
    live.discard(100)                                                  # the first run was killed
    holder, dead = second.claim("k")
    assert holder is None and dead is not None and dead.pid == 100     # taken over
    assert second.claims()["k"] == Claim(pid=200, host="h1", started_at=clock.now, owner=second.owner)
    assert second.get("k").state == PENDING_INIT                       # the record the killed run left is kept

    first.release("k")                                                 # not its claim any more: left alone
    assert "k" in second.claims()
    holder, _ = remote_host.claim("k")                                 # same pid number, other host: live
    assert holder is not None and holder.pid == 200
    clock.now += CLAIM_TIMEOUT_S                                       # six hours later another host's claim
    assert remote_host.claim("k")[0] is None                           # counts as dead
    assert remote_host.claims()["k"].host == "h2"
    remote_host.release("k")
    assert remote_host.claims() == {} and remote_host.get("k").state == PENDING_INIT
    assert "claims" not in json.loads(path.read_text())                # no empty claims table left behind


def test_two_claimants_in_one_process_exclude_each_other(tmp_path):
    """The app's background runner and its Posts page share a pid: each store object's claim is its own."""
    path = tmp_path / "videos_to_upload.results.json"
    runner, page = ResultsStore(path), ResultsStore(path)
    assert runner.claim("k") == (None, None)
    holder, _ = page.claim("k")
    assert holder is not None and holder.owner == runner.owner
    runner.release("k")
    assert page.claim("k") == (None, None)


def test_pid_alive_sees_a_real_dead_process_and_a_reused_pid_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pid_alive(os.getpid()) and not pid_alive(child.pid) and not pid_alive(0)
    me = socket.gethostname()
    began = process_start_time(os.getpid())
    assert began is not None and began <= time.time() + 2
    assert claim_is_live(Claim(pid=os.getpid(), host=me, started_at=time.time()), host=me, now=time.time())
    old = Claim(pid=os.getpid(), host=me, started_at=began - 60)  # made before this process existed
    assert not claim_is_live(old, host=me, now=time.time())


# -- the publisher with claims ----------------------------------------------------------------------------------

def test_an_entry_another_live_run_holds_is_skipped_and_not_posted(emulator, remote, tmp_path):
    harness = Harness(emulator, remote, tmp_path)
    make_video(tmp_path / "clip.mp4")
    entry = {"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}
    other = ResultsStore(harness.results.path, pid=4242, host="elsewhere.example")  # another host: live for 6 h
    other_key = _key_of(entry, tmp_path)
    assert other.claim(other_key) == (None, None)
    (outcome,) = harness.post([entry], poll_interval_s=0.01)
    assert outcome.status == "skipped" and outcome.state == "claimed_elsewhere"
    assert "another run (pid 4242 on elsewhere.example, since " in outcome.detail
    assert "is posting this entry" in outcome.detail
    assert remote.state()["posts"] == []
    assert harness.results.claims()[other_key].pid == 4242                  # its claim is not ours to release
    other.release(other_key)
    (outcome,) = harness.post([entry], poll_interval_s=0.01)
    assert (outcome.status, outcome.state) == ("done", "posted") and len(remote.state()["posts"]) == 1
    assert harness.results.claims() == {}                                   # released when the entry ended


def test_a_killed_runs_pending_pull_is_taken_over_but_not_reposted_without_force(emulator, remote, tmp_path):
    harness = Harness(emulator, remote, tmp_path)
    entry = {"user_id": ADA, "video_url": "http://127.0.0.1:9/media/clip.mp4", "privacy": "SELF_ONLY"}
    key = _key_of(entry, tmp_path)
    killed = ResultsStore(harness.results.path, pid=999_999_999, host=socket.gethostname())  # no such pid
    killed.claim(key)
    killed.save(PostRecord(key=key, index=0, user_id=ADA, state=PENDING_INIT, emulated=True))
    (outcome,) = harness.post([entry])
    assert any("taking over from a run that stopped (pid 999999999" in line for line in harness.lines)
    assert outcome.status == "failed" and "--force" in outcome.detail and outcome.state == PENDING_INIT
    assert remote.state()["posts"] == [] and harness.results.claims() == {}


def test_a_killed_runs_file_upload_is_taken_over_and_posted_once(emulator, remote, tmp_path):
    harness = Harness(emulator, remote, tmp_path)
    make_video(tmp_path / "clip.mp4")
    entry = {"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}
    key = _key_of(entry, tmp_path)
    killed = ResultsStore(harness.results.path, pid=999_999_999, host=socket.gethostname())
    killed.claim(key)
    killed.save(PostRecord(key=key, index=0, user_id=ADA, state=PENDING_INIT, emulated=True))
    (outcome,) = harness.post([entry], poll_interval_s=0.01)  # a FILE_UPLOAD init without bytes never posts
    assert any("taking over" in line for line in harness.lines)
    assert (outcome.status, outcome.state) == ("done", "posted") and len(remote.state()["posts"]) == 1
    assert harness.results.claims() == {}


def _key_of(raw: dict, base: Path) -> str:
    from tiktok.posting.manifest import validate_manifest
    manifest = validate_manifest([raw], source="m.json", base_dir=base, allow_loopback=True)
    return entry_key(manifest.entries[0])


# -- two real processes at once, ten times -------------------------------------------------------------------------

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


def test_two_runs_started_at_once_post_every_entry_exactly_once(emulator, remote, media, tmp_path):
    clip, host = media
    emulator.config.verified_url_prefixes.extend([host.url + "/media/", host.url + "/photos/"])
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    started = time.monotonic()
    figures = []
    for round_ in range(10):
        emulator.reset()                        # fresh emulator state (posts, tokens, caps) every round
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        (folder / "clip.mp4").symlink_to(clip)
        store = TokenStore(folder / "user_tokens.json")
        for open_id in (ADA, BO):
            link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)
        (folder / "videos_to_upload.json").write_text(json.dumps(eight_entries(host.url)))
        env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT),
               "TIKTOK_CLIENT_KEY": emulator.config.client_key,
               "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
               "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json")}
        command = [sys.executable, str(ROOT / "upload_to_tiktok.py"), "--json", "--poll-interval", "0.01"]
        runs = [subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
        finished = [(run.wait(timeout=60), *run.communicate()) for run in runs]
        codes = [code for code, _, _ in finished]
        reports = [json.loads(out) for _, out, _ in finished]
        posts = remote.state()["posts"]
        assert len(posts) == 8, (round_, codes, [err for _, _, err in finished])
        assert len({p["publish_id"] for p in posts}) == 8
        assert set(codes) <= {0, 4}, (round_, codes, [err for _, _, err in finished])
        done = [o for r in reports for o in r["outcomes"] if o["status"] == "done"]
        busy = [o for r in reports for o in r["outcomes"] if o["state"] == "claimed_elsewhere"]
        assert len(done) == 8 and sorted(o["index"] for o in done) == list(range(8))  # each posted by one run
        for code, report in zip(codes, reports):
            assert code == (4 if any(o["state"] == "claimed_elsewhere" for o in report["outcomes"]) else 0)
        results = ResultsStore(folder / "videos_to_upload.results.json")
        assert sorted(r.state in DONE for r in results.load().values()) == [True] * 8 and results.claims() == {}
        figures.append((codes, len(busy)))
    elapsed = time.monotonic() - started
    print(f"10 rounds in {elapsed:.1f} s; (exit codes, entries skipped as claimed elsewhere) per round: {figures}")
    assert elapsed < 90
