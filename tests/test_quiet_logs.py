"""Quiet logs (issue 24): a repeating run (the app's tick, ``--watch``) logs what changed, not every unchanged entry
each round; the app's embedded emulator writes its line per request only with ``-v``; no ANSI code reaches output
that is not a terminal.

The ticks run on an injected clock: the app's runner is built with its shipped default tick (30 s) and the tick's
pause is the test's, which moves the app's clock 30 s and returns at once, so half an hour takes a second."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.config import load_settings
from tiktok.logs import REQUEST_LINES, show_request_lines
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.command import watch_rounds
from tiktok.posting.importer import import_manifest, manifest_media
from tiktok.posting.runner import Hooks, RunOptions
from tiktok.posting.watch import RESCAN_S, watch
from tiktok.store.base import open_store, open_token_store
from tiktok.store.records import PostRecord, State
from tiktok.web.app import create_app
from tiktok.web.queue_runner import APP_TICK_S, runner_of
from tests.conftest import OffsetClock
from tests.media_fixtures import make_video
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
IDLE_S = 30 * 60  # the half hour the issue measured
FEW_LINES = 5  # "at most a few lines"
WAIT_S = 30.0  # only ever reached when something is broken


class Site:
    """A folder with a manifest of ``n`` video entries, the settings a user has for it (the shipped defaults, the
    emulator as TikTok) and the post store those settings open."""

    def __init__(self, folder: Path, emulator, entries: list[dict]) -> None:
        self.folder = folder
        self.manifest = folder / "videos_to_upload.json"
        self.manifest.write_text(json.dumps(entries))
        self.settings = load_settings({
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json"),
            "MANIFEST_FILE": str(self.manifest), "MEDIA_DIR": str(folder / "media")})

    def posted(self) -> None:
        """Import the manifest and leave every post as a run that posted it leaves it (private: no link to wait
        for), as yesterday's runs did."""
        store = open_store(self.settings)
        try:
            imported = import_manifest(store, self.manifest, allow_loopback=True, tokens_key=None,
                                       media=manifest_media(self.settings))
            for n, post in enumerate(imported.result.added):
                assert store.start(post.id, post.revision, PostRecord(key=post.key, user_id=post.user_id,
                                                                      state=State.PENDING_INIT))
                store.save(post.id, PostRecord(key=post.key, user_id=post.user_id, state=State.POSTED,
                                               publish_id=f"p{n}", privacy="SELF_ONLY", outcome="done"))
            assert store.count() == len(imported.result.added)
        finally:
            store.close()


def videos(folder: Path, n: int, **fields) -> list[dict]:
    clip = make_video(folder / "clip.mp4")
    return [{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": f"clip {i}", **fields}
            for i in range(n)]


class Ticking:
    """The app's runner with its own tick (the shipped default), whose pause lets the round it kicked end, then
    moves the app's clock by the tick instead of waiting; ``between(tick)`` runs before each kick."""

    def __init__(self, app, clock: OffsetClock) -> None:
        self.app, self.clock, self.ticks = app, clock, 0
        self.runner = runner_of(app)
        self.runner.stop()  # the real tick, started by the app, ends at once: this one replaces it

    def run(self, seconds: float, between=lambda tick: None) -> None:
        tick_s = self.app.config["QUEUE_TICK_S"]
        rounds = seconds // tick_s

        def pause(step: float) -> bool:
            assert self.runner.join(WAIT_S), "a round did not end"
            if self.ticks == rounds:
                return True
            self.clock.advance(step)
            self.ticks += 1
            between(self.ticks)
            return False
        thread = self.runner.start_tick(tick_s, wait=pause)
        thread.join(WAIT_S * rounds)
        assert not thread.is_alive() and self.runner.join(WAIT_S)
        assert self.runner.rounds == rounds


def app_lines(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in records]


@pytest.fixture
def app_log(caplog):
    """What ``python app.py`` logs (tiktok/commands/app.py without -v): INFO and up from every logger, the
    emulator's request lines (the test's emulator runs in this process too) only from WARNING."""
    werkzeug = logging.getLogger(REQUEST_LINES)
    level = werkzeug.level
    show_request_lines(False)
    try:
        with caplog.at_level(logging.INFO):
            yield caplog
    finally:
        werkzeug.setLevel(level)


def test_an_idle_queue_of_100_posted_entries_logs_a_few_lines_in_30_minutes(emulator, tmp_path, app_log):
    site = Site(tmp_path, emulator, videos(tmp_path, 100))
    site.posted()
    clock = OffsetClock()
    app = create_app({"CLOCK": clock}, settings=site.settings)  # no test config: the app's own defaults
    assert app.config["QUEUE_TICK_S"] == APP_TICK_S == 30
    ticking = Ticking(app, clock)
    app_log.clear()
    ticking.run(IDLE_S)
    lines = app_lines(app_log.records)
    print(f"\n{len(lines)} log line(s) in {IDLE_S // 60} minutes of {ticking.ticks} ticks over 100 posted entries:",
          *lines, sep="\n  ")
    assert ticking.ticks == 60 and clock.offset == IDLE_S
    assert len(lines) <= FEW_LINES, lines
    assert sum("posting run: summary: nothing to do" in line for line in lines) == 1  # the first round's, only


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=0)])  # no status poll waits
def test_the_apps_runner_logs_each_change_once(emulator, remote, tmp_path, app_log):
    """In an idle half hour: a broken entry, a missed entry and a public post waiting for its link (every round
    looks for it at TikTok) are each logged once, and the link once it comes; nothing else repeats."""
    remote.set_moderation(delay_s=600)  # TikTok holds the public post's id back for ten minutes
    tokens = open_token_store(load_settings({"TOKENS_FILE": str(tmp_path / "user_tokens.json")}))
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, tokens, oauth, ADA, scopes=SCOPES)
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    (public,) = videos(tmp_path, 1, privacy="PUBLIC_TO_EVERYONE", description="public")
    site = Site(tmp_path, emulator, [public, {**public, "description": "missed", "post_at": yesterday},
                                     {**public, "description": "broken", "privacy": "NOT_A_LEVEL"}])
    clock = OffsetClock()

    def between(tick: int) -> None:
        if tick == 30:  # a quarter of an hour in, moderation clears the post at TikTok
            remote.advance_clock(600)
    app = create_app({"CLOCK": clock}, settings=site.settings)
    ticking = Ticking(app, clock)
    app_log.clear()
    ticking.run(IDLE_S, between)
    lines = app_lines(app_log.records)
    print(f"\n{len(lines)} log line(s):", *lines, sep="\n  ")

    def once(text: str) -> str:
        found = [line for line in lines if text in line]
        assert len(found) == 1, (text, lines)
        return found[0]
    once('"privacy"')  # the broken entry, from the manifest's import
    once("missed: it was due at")
    once("posted; under review at TikTok")  # the first round posts it
    once("still under review at TikTok")  # the second round's look; the next 28 say nothing
    once("cleared review: public post id")
    # and a summary after each round that logged something, or whose counts changed: 16 lines where every round
    # used to log the broken entry, the missed one, the look and a summary (300 lines)
    assert len(lines) <= 16 and sum("summary:" in line for line in lines) <= 4, lines
    assert len(remote.state()["posts"]) == 1


def test_watch_over_an_idle_queue_prints_only_its_first_round(emulator, tmp_path):
    """--watch looks again every minute: over half an hour of 100 posted entries it prints its first round's
    summary and where it watches, then nothing."""
    site = Site(tmp_path, emulator, videos(tmp_path, 100))
    site.posted()
    now = {"t": time.time()}
    start = now["t"]
    store = open_store(site.settings, clock=lambda: now["t"])
    lines: list[str] = []
    rounds: list[float] = []
    try:
        run_once, after = watch_rounds(store, site.manifest, site.settings, RunOptions(), Hooks(say=lines.append),
                                     lines.append)

        def counted():
            rounds.append(now["t"])
            return run_once()
        watch(counted, clock=lambda: now["t"], sleep=lambda s: now.update(t=now["t"] + s), changed=lambda: None,
              stopped=lambda: now["t"] - start >= IDLE_S, after=after)
    finally:
        store.close()
    print(f"\n--watch: {len(lines)} line(s) in {len(rounds)} rounds:", *lines, sep="\n  ")
    assert len(rounds) == IDLE_S // RESCAN_S
    assert len(lines) <= 3 and lines[0].startswith("summary: nothing to do"), lines
    assert "next look at" in lines[-1]


# -- the embedded emulator's request lines -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_stderr(folder: Path, *options: str) -> str:
    """Run ``python app.py`` in emulated mode (no TikTok app configured) with its output piped (not a terminal),
    ask its emulator for a page it has and one it has not, stop it, and return what it wrote."""
    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PORT": str(port),
           "TIKTOK_EMULATOR_PORT": str(emulator_port)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *options], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the app did not start"
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        for _ in range(3):  # the Posts page's follow-up, every 2 s while something moves: no line for a success
            assert requests.get(f"http://127.0.0.1:{port}/posts/board?since=0", timeout=5).status_code == 200
        emulator = f"http://127.0.0.1:{emulator_port}"
        assert requests.get(f"{emulator}/_emulator/clock", timeout=5).status_code == 200
        assert requests.get(f"{emulator}/no-such-page", timeout=5).status_code == 404  # werkzeug colours a 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err
    return out + err


@pytest.mark.slow
@pytest.mark.parametrize("options, shown", [((), False), (("-v",), True), (("--verbose",), True)])
def test_the_emulators_request_lines_only_with_verbose_and_never_coloured(tmp_path, options, shown):
    output = app_stderr(tmp_path, *options)
    assert "EMULATED MODE" in output  # the app's own lines are there either way
    assert ('"GET /_emulator/clock HTTP/1.1" 200' in output) is shown, output
    assert ('"GET /no-such-page HTTP/1.1" 404' in output) is shown, output
    assert '"GET /" 200' in output  # the app's own access line stays
    assert "/posts/board" not in output  # but not one per follow-up of the Posts page
    assert "\x1b" not in output and "\\x1b[" not in output, output  # no colour code, raw or escaped


def test_emulator_request_lines_carry_no_colour_code(emulator, caplog):
    """The emulator's server writes werkzeug's request line without the colour werkzeug puts around a 404."""
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.get(f"{emulator.url}/no-such-page", timeout=5).status_code == 404
    (line,) = [r.getMessage() for r in caplog.records if "no-such-page" in r.getMessage()]
    assert line.endswith('"GET /no-such-page HTTP/1.1" 404 -') and "\x1b" not in line
