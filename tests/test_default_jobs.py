"""The posting command's default ``--jobs`` (issue 27, item 6): one worker per account with posts due, at most
DEFAULT_JOBS_BOUND (16), because TikTok's limits are per account; the shared per-token limiter is unchanged, and an
explicit ``--jobs N`` still decides.

Over real HTTP: the emulator holds every creator_info answer for a while (an injected delay), and its request log
shows when each request arrived: with the shipped default the three accounts' calls all arrive inside one delay
(in parallel); with ``--jobs 1`` each arrives only after the one before was answered.
"""

from __future__ import annotations

import json
import re

import pytest

from tiktok.emulator.config import default_users
from tiktok.posting.limits import DEFAULT_JOBS_BOUND, MAX_JOBS
from tiktok.posting.runner import RunOptions, accounts_at_once
from tests.media_fixtures import make_video
from tests.test_upload_cli import link, run, write_manifest

ACCOUNTS = tuple(u.open_id for u in default_users())  # three accounts
CREATOR_INFO = "/v2/post/publish/creator_info/query/"
HOLD_S = 2.0  # real seconds the emulator holds each creator_info answer


@pytest.mark.parametrize("jobs, accounts, workers", [
    (None, 3, 3),  # the default: one per account with due work
    (None, 16, 16),
    (None, 20, DEFAULT_JOBS_BOUND),  # ... within the bound
    (None, 0, 1),
    (4, 20, 4),  # an explicit --jobs decides
    (20, 3, 3),  # never more threads than accounts
    (1, 20, 1),
])
def test_workers_follow_the_accounts_with_work_within_the_bound(jobs, accounts, workers):
    assert accounts_at_once(jobs, accounts) == workers


def test_the_shipped_defaults():
    assert RunOptions().jobs is None and DEFAULT_JOBS_BOUND == 16 and MAX_JOBS >= DEFAULT_JOBS_BOUND
    from tiktok import cli
    assert cli.build_parser()[1]["post"].parse_args([]).jobs is None
    assert cli.build_parser()[1]["post"].parse_args(["--jobs", "3"]).jobs == 3


def arrivals(remote) -> list[float]:
    return [r["at"] for r in remote.requests() if r["path"] == CREATOR_INFO]


@pytest.mark.slow  # the real command in its own process, twice, each waiting on the emulator's delays
@pytest.mark.parametrize("args, parallel", [((), True), (("--jobs", "1"), False)], ids=["default", "jobs-1"])
def test_the_default_posts_every_account_at_once_and_jobs_1_one_at_a_time(tmp_path, emulator, remote, args,
                                                                          parallel):
    link(tmp_path, emulator, users=ACCOUNTS)
    clip = make_video(tmp_path / "clip.mp4")
    write_manifest(tmp_path, [{"user_id": open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                               "description": f"post {n}"} for n, open_id in enumerate(ACCOUNTS)])
    remote.inject_fault(CREATOR_INFO, delay=HOLD_S, times=len(ACCOUNTS))
    done = run(tmp_path, emulator, "--json", "--poll-interval", "0.01", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [o["status"] for o in json.loads(done.stdout)["outcomes"]] == ["done"] * len(ACCOUNTS)
    at = sorted(arrivals(remote))
    assert len(at) == len(ACCOUNTS), at
    if parallel:  # every account's call arrived while the first was still held
        assert at[-1] - at[0] < HOLD_S, at
    else:  # each arrived after the one before was answered
        assert all(later - earlier >= HOLD_S for earlier, later in zip(at, at[1:])), at
    assert remote.rate_limited() == 0  # the shared limiter kept every account within TikTok's limits


@pytest.mark.slow
def test_with_more_accounts_than_workers_the_accounts_take_turns(tmp_path, emulator, remote):
    """Three accounts of two posts each on two workers: the third account's first post goes before any account's
    second (no account waits for another's whole queue), and each account's posts still go in order."""
    link(tmp_path, emulator, users=ACCOUNTS)
    clip = make_video(tmp_path / "clip.mp4")
    entries = [{"user_id": open_id, "video_path": str(clip), "privacy": "SELF_ONLY", "description": f"{n} {turn}"}
               for turn in (1, 2) for n, open_id in enumerate(ACCOUNTS)]
    write_manifest(tmp_path, entries)
    done = run(tmp_path, emulator, "--json", "--poll-interval", "0.01", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [o["status"] for o in json.loads(done.stdout)["outcomes"]] == ["done"] * 6
    headings = re.findall(r"\[(\d)/6\] post (\d) for ", done.stderr)
    assert [position for position, _ in headings] == ["1", "2", "3", "4", "5", "6"], done.stderr
    entry_numbers = [int(post) for _, post in headings]  # post n (the n-th entry) is account (n - 1) % 3's
    accounts = [(number - 1) % 3 for number in entry_numbers]
    assert sorted(accounts[:3]) == [0, 1, 2], entry_numbers  # every account's first post before any second one
    for account in range(3):
        mine = [number for number in entry_numbers if (number - 1) % 3 == account]
        assert mine == sorted(mine), entry_numbers  # one account's posts in queue order
