"""``upload_to_tiktok.py --dry-run`` as a person runs it: a real subprocess against the emulator, over a store that
real runs prepared. Every entry is checked in full and every problem is listed in one run; each entry ends with what
a real run would do with it; nothing is posted and the store is left byte for byte as it was."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tiktok.emulator.config import EmulatorConfig
from tiktok.emulator.posts import PostingSettings
from tiktok.emulator.server import start_emulator
from tests.media_fixtures import make_video
from tests.test_upload_cli import (  # noqa: F401 (workdir is a fixture)
    ADA, BO, link, run, stored_posts, workdir, write_manifest,
)

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
POSTED = {"user_id": ADA, "video_path": "clip.mp4", "description": "posted before", "privacy": "SELF_ONLY"}
IN_FLIGHT = {"user_id": BO, "video_path": "clip.mp4", "description": "left processing", "privacy": "SELF_ONLY"}
FINE = {"user_id": BO, "video_path": "clip.mp4", "description": "fine", "disable_stitch": False}


def at(hours: float) -> str:
    """A post_at ``hours`` from now (negative: ago)."""
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat(timespec="seconds")


def entries(output: str) -> dict[int, str]:
    """Each manifest entry's block of lines (its head and the indented lines under it), by entry number."""
    blocks: dict[int, str] = {}
    number = None
    for line in output.splitlines():
        head = re.match(r"\[emulator\] entry (\d+)\b", line)
        if head:
            number = int(head.group(1))
            blocks[number] = line
        elif number is not None and line.startswith("[emulator]   "):
            blocks[number] += "\n" + line
        else:
            number = None
    return blocks


def verdict(block: str) -> str:
    found = re.findall(r"a real run would (post|skip|resume|wait|refuse)\b", block)
    assert len(found) == 1, block
    return found[0]


def store_bytes(workdir: Path) -> str:
    return hashlib.sha256((workdir / "tiktok.db").read_bytes()).hexdigest()


@pytest.mark.slow
def test_one_entry_of_each_problem_kind_all_reported_in_one_run(workdir, emulator, remote):
    make_video(workdir / "long.mp4", seconds=61, width=360, height=360, fps=24, audio=False)  # Bo: 60 s at most
    write_manifest(workdir, [POSTED])
    assert run(workdir, emulator, "--poll-interval", "0.01").returncode == 0
    write_manifest(workdir, [POSTED, IN_FLIGHT])
    stopped = run(workdir, emulator, "--poll-timeout", "0.01")  # leaves Bo's post processing at TikTok
    assert stopped.returncode == 4, stopped.stdout + stopped.stderr
    posted, in_flight = stored_posts(workdir)
    assert (posted.state, in_flight.state, in_flight.record.in_flight) == ("posted", "processing", True)
    write_manifest(workdir, [
        {"user_id": ADA, "video_path": "clip.mp4", "tags": "not-a-list"},                      # 1 schema
        {"user_id": "nobody-linked-this", "video_path": "clip.mp4"},                            # 2 unknown account
        {"user_id": ADA, "video_path": "gone.mp4"},                                             # 3 missing file
        {"user_id": ADA, "video_path": "clip.mp4", "privacy": "FOLLOWER_OF_CREATOR"},           # 4 not offered
        {"user_id": ADA, "video_path": "clip.mp4", "description": "missed", "post_at": at(-3)},  # 5 missed
        POSTED,                                                                                 # 6 already posted
        IN_FLIGHT,                                                                              # 7 in flight
        FINE,                                                                                   # 8 fine
        {**FINE, "post_at": at(-0.5)},                                                          # 9 duplicate of 8
        {"user_id": BO, "video_path": "clip.mp4", "description": "later", "post_at": at(2)},    # 10 scheduled
        {"user_id": BO, "video_path": "long.mp4"},                                              # 11 too long for Bo
    ])
    before = (store_bytes(workdir), stored_posts(workdir), remote.state()["posts"])

    result = run(workdir, emulator, "--dry-run")

    assert result.returncode == 2, result.stdout + result.stderr
    blocks = entries(result.stdout)
    assert {n: verdict(b) for n, b in blocks.items()} == {
        1: "refuse", 2: "refuse", 3: "refuse", 4: "refuse", 5: "refuse", 6: "skip", 7: "resume", 8: "post",
        9: "skip", 10: "wait", 11: "refuse"}
    needles = {
        1: 'field "tags"',
        2: 'field "user_id": no connected account nobody-linked-this',
        3: "gone.mp4: file not found",
        4: 'field "privacy": FOLLOWER_OF_CREATOR is not offered to @ada.creates',
        5: "missed: it was due at",
        6: f"skip it as done: already posted ({posted.record.publish_id}, ",
        7: f"resume it: {in_flight.record.publish_id} is ",
        8: "privacy SELF_ONLY (the safe default), offered to @bo_tests; videos up to 60 s",
        9: "the same post as entry 8",
        10: "would wait until ",
        11: "over this creator's 60 s limit",
    }
    assert {n: needle for n, needle in needles.items() if needle not in blocks[n]} == {}
    assert "interactions off: comments, duets, stitches (@bo_tests has turned stitches off" in blocks[8]
    assert "uploaded in 1 chunk" in blocks[8] and "uploaded in 1 chunk" in blocks[10]  # the scheduled one too
    assert "dry run: 1 post, 1 resume, 1 wait, 2 skip, 6 refuse; nothing was posted or stored" in result.stdout
    assert all(line.startswith("[emulator] ") for line in result.stdout.splitlines()), result.stdout
    assert (store_bytes(workdir), stored_posts(workdir), remote.state()["posts"]) == before


def test_an_invalid_entry_still_has_its_account_and_file_checked(workdir, emulator):
    write_manifest(workdir, [{"user_id": "nobody-linked-this", "video_path": "gone.mp4", "tags": 7},
                             {"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}])
    result = run(workdir, emulator, "--dry-run")
    assert result.returncode == 2
    first, second = entries(result.stdout).values()
    assert 'field "tags"' in first and "no connected account nobody-linked-this" in first
    assert "gone.mp4: file not found" in first and "refuse it: 3 problems (above)" in first
    assert verdict(second) == "post"  # the bad entry stops nothing after it
    assert not (workdir / "tiktok.db").exists()  # a dry run creates no store


def test_tiktok_unreachable_is_said_for_each_entry_and_the_rest_is_still_checked(workdir, emulator, remote):
    remote.inject_fault(CREATOR_INFO, status=503, error="internal_error", times=10)
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "FOLLOWER_OF_CREATOR"},
                             {"user_id": ADA, "video_path": "gone.mp4"},
                             {"user_id": BO, "video_path": "clip.mp4"}])
    result = run(workdir, emulator, "--dry-run")
    blocks = entries(result.stdout)
    assert all("creator options not checked: the emulator could not be reached" in blocks[n] for n in (1, 3))
    assert [verdict(blocks[n]) for n in (1, 2, 3)] == ["post", "refuse", "post"]
    assert "gone.mp4: file not found" in blocks[2] and result.returncode == 2
    remaining = [f for f in remote.state()["faults"] if f["path"] == CREATOR_INFO]
    assert sum(f.get("times", 1) for f in remaining) == 10 - 2  # one creator_info call per account, no retry


def test_a_creator_tiktok_takes_no_posts_from_now_is_named(tmp_path):
    capped = {ADA: PostingSettings(daily_post_cap=0), BO: PostingSettings(banned_from_posting=True)}
    with start_emulator(EmulatorConfig(posting=capped)) as emulator:
        link(tmp_path, emulator)
        make_video(tmp_path / "clip.mp4")
        write_manifest(tmp_path, [{"user_id": ADA, "video_path": "clip.mp4"},
                                  {"user_id": BO, "video_path": "clip.mp4"}])
        result = run(tmp_path, emulator, "--dry-run")
    first, second = entries(result.stdout).values()
    assert "would wait and try again later: TikTok takes no new post" in first and "too_many_posts" in first
    assert verdict(second) == "refuse" and "banned" in second
    assert result.returncode == 2


@pytest.mark.slow
def test_posts_the_store_holds_beyond_the_file_are_planned_too(workdir, emulator, remote):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "description": "soon", "post_at": at(1)}])
    assert run(workdir, emulator).returncode == 0  # imported, scheduled: nothing posted
    write_manifest(workdir, [FINE])
    result = run(workdir, emulator, "--dry-run")
    assert result.returncode == 0, result.stdout
    assert "[emulator] post 1 (from " in result.stdout
    assert "a real run would withdraw it: it is no longer in videos_to_upload.json and had not started" \
        in result.stdout
    assert verdict(entries(result.stdout)[1]) == "post"
    assert [p.state for p in stored_posts(workdir)] == ["queued"] and remote.state()["posts"] == []
