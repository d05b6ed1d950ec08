"""Bad options and confusing messages (issue 9): out-of-range options exit 2, unknown scopes are named, a duplicate
manifest entry is imported once with a warning, an empty results file from an earlier version is no record (the
caption check still stops a post the account already has, until --force), and a directory given to transcribe.py
is called a directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.config import DEFAULT_SCOPES, load_settings
from tiktok.errors import ConfigError
from tiktok.cli import command_parser
from tiktok.posting.limits import MAX_CHUNK_BYTES, MIN_CHUNK_BYTES
from tests.test_upload_cli import (  # noqa: F401 (workdir is a fixture)
    ADA, link, run, stored_posts, workdir, write_manifest,
)

WITH_VIDEO_LIST = ("user.info.basic", "video.publish", "video.upload", "video.list")  # the caption check needs it

ROOT = Path(__file__).resolve().parents[1]


def build_parser():
    """upload_to_tiktok.py's parser."""
    return command_parser("post", "upload_to_tiktok.py")


@pytest.mark.parametrize("argv, needle", [
    (["--chunk-size", str(MIN_CHUNK_BYTES - 1)], "5,242,879 is outside 5,242,880-64,000,000 bytes"),
    (["--chunk-size", str(MAX_CHUNK_BYTES + 1)], "64,000,001 is outside 5,242,880-64,000,000 bytes"),
    (["--chunk-size", "0"], "0 is outside"),
    (["--chunk-size", "ten"], "'ten' is not a whole number"),
    (["--poll-timeout", "0"], "argument --poll-timeout: 0 must be more than 0"),
    (["--poll-timeout", "-5"], "argument --poll-timeout: -5 must be more than 0"),
    (["--poll-interval", "0"], "argument --poll-interval: 0 must be more than 0"),
    (["--poll-interval", "-0.5"], "argument --poll-interval: -0.5 must be more than 0"),
])
def test_out_of_range_options_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert needle in capsys.readouterr().err


def test_in_range_options_parse():
    args = build_parser().parse_args(["--chunk-size", str(MIN_CHUNK_BYTES), "--poll-timeout", "0.5",
                                      "--poll-interval", "0.01"])
    assert (args.chunk_size, args.poll_timeout, args.poll_interval) == (MIN_CHUNK_BYTES, 0.5, 0.01)
    assert build_parser().parse_args(["--chunk-size", str(MAX_CHUNK_BYTES)]).chunk_size == MAX_CHUNK_BYTES


@pytest.mark.slow
def test_the_cli_refuses_a_chunk_size_outside_tiktoks_limits(workdir, emulator, remote):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4"}])
    result = run(workdir, emulator, "--chunk-size", "1000")
    assert result.returncode == 2 and "--chunk-size: 1,000 is outside" in result.stderr
    assert remote.state()["posts"] == []


@pytest.mark.parametrize("scopes, unknown", [
    ("user.info.basic,video.delete", "unknown scope video.delete"),
    ("user.info.basic, video.publish , vidéo.list,user.info.email", "unknown scopes vidéo.list, user.info.email"),
])
def test_an_unknown_scope_is_a_config_error_naming_it(scopes, unknown):
    with pytest.raises(ConfigError) as caught:
        load_settings({"TIKTOK_SCOPES": scopes})
    assert unknown in str(caught.value) and "video.upload" in str(caught.value)  # and lists the known ones


def test_every_documented_scope_is_accepted():
    assert load_settings({"TIKTOK_SCOPES": ",".join(DEFAULT_SCOPES)}).scopes == DEFAULT_SCOPES
    assert load_settings({"TIKTOK_SCOPES": "user.info.basic"}).scopes == ("user.info.basic",)


@pytest.mark.slow
def test_the_cli_exits_2_on_an_unknown_scope(workdir, emulator, remote):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4"}])
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT), "TIKTOK_API_BASE": emulator.url,
           "TOKENS_FILE": str(workdir / "user_tokens.json"), "TIKTOK_SCOPES": "user.info.basic,video.pubish"}
    result = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py")], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unknown scope video.pubish" in result.stdout
    assert remote.state()["posts"] == []


@pytest.mark.slow
def test_a_duplicate_entry_is_imported_once_with_a_warning(workdir, emulator, remote):
    entry = {"user_id": ADA, "video_path": "clip.mp4", "description": "same", "privacy": "SELF_ONLY"}
    write_manifest(workdir, [entry, {**entry, "description": "other"}, {**entry, "post_at": "2030-01-01T09:00Z"}])
    result = run(workdir, emulator, "--json", "--poll-interval", "0.01")
    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert "warning: " in result.stderr and "entry 3 is the same post as entry 1" in result.stderr
    assert "it is posted once" in result.stderr
    outcomes = json.loads(result.stdout)["outcomes"]
    assert [o["status"] for o in outcomes] == ["done", "done"]
    assert [p.source_index for p in stored_posts(workdir)] == [0, 1]
    assert len(remote.state()["posts"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("content", ["{}", '{"version": 1, "records": {}}', ""])
def test_an_empty_results_file_is_no_record_and_the_caption_check_still_needs_force(workdir, emulator, remote,
                                                                                     content):
    link(workdir, emulator, users=(ADA,), scopes=WITH_VIDEO_LIST)
    entry = {"user_id": ADA, "video_path": "clip.mp4", "description": "seen before", "privacy": "PUBLIC_TO_EVERYONE"}
    write_manifest(workdir, [entry])
    elsewhere = run(workdir, emulator, "--poll-interval", "0.01", STORE_FILE=str(workdir / "other.db"))
    assert elsewhere.returncode == 0 and len(remote.state()["posts"]) == 1  # another store posted it
    results = workdir / "videos_to_upload.results.json"
    results.write_text(content)
    refused = run(workdir, emulator, "--poll-interval", "0.01")
    assert refused.returncode == 1, refused.stdout
    assert "FAILED: the account already has a public video with this exact caption" in refused.stdout
    assert "--force" in refused.stdout
    assert len(remote.state()["posts"]) == 1 and results.read_text() == content  # the old file is never changed
    (post,) = stored_posts(workdir)
    assert post.board == "failed" and post.record.force_needed
    again = run(workdir, emulator, "--poll-interval", "0.01")  # every run says so until --force
    assert again.returncode == 1 and "--force" in again.stdout and len(remote.state()["posts"]) == 1
    forced = run(workdir, emulator, "--force", "--poll-interval", "0.01")
    assert forced.returncode == 0 and "DONE: posted" in forced.stdout
    assert len(remote.state()["posts"]) == 2
    after = run(workdir, emulator, "--poll-interval", "0.01")  # the store now has the record: nothing to do
    assert after.returncode == 0 and "nothing to do" in after.stdout and len(remote.state()["posts"]) == 2


@pytest.mark.slow
def test_transcribe_says_a_directory_is_a_directory(tmp_path):
    (tmp_path / "videos").mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TOKENS_FILE": str(tmp_path / "user_tokens.json")}
    result = subprocess.run([sys.executable, str(ROOT / "transcribe.py"), "videos"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("[emulator] BAD INPUT")]
    assert "videos: is a directory, not a media file" in line and "no such file" not in line
