"""The report command's S3 upload against moto's S3 server on 127.0.0.1, in-process and as cron runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from tests.support.reports import ADA, BO, Reporter, make_reporter

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "team-stats"
DAY_S = 86_400




@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


@pytest.fixture
def s3(s3_server, aws_env):
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=BUCKET)
    return client


def stored(client) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing}


def local_files(root: Path, prefix: str) -> dict[str, bytes]:
    """What the bucket should hold: every local report file under ``<prefix>/YYYY-MM-DD/<name>``."""
    return {f"{prefix}/{path.parent.name}/{path.name}": path.read_bytes() for path in sorted(root.glob("*/*.csv"))}


@pytest.mark.slow
def test_two_days_uploaded_byte_for_byte_under_the_key_pattern(reporter, remote, s3, s3_server):
    reporter.link(ADA)
    reporter.link(BO)
    uri = f"s3://{BUCKET}/tiktok/daily"
    first = reporter("--s3-uri", uri, "--s3-endpoint-url", s3_server)
    remote.advance_clock(DAY_S)
    second = reporter("--date", reporter.today().isoformat(), "--s3-uri", uri, "--s3-endpoint-url", s3_server)
    assert (first.code, second.code) == (0, 0), first.out + second.out
    expected = local_files(reporter.reports, "tiktok/daily")
    assert len(expected) == 6 and stored(s3) == expected
    key = f"tiktok/daily/{reporter.today()}/ada.creates.csv"
    assert f"[emulator] DONE      {reporter.reports / str(reporter.today()) / 'ada.creates.csv'}: uploaded to " \
           f"s3://{BUCKET}/{key}" in second.out.splitlines()


@pytest.mark.slow
def test_upload_failure_is_reported_per_file_and_the_local_files_are_kept(reporter, s3, s3_server):
    reporter.link(ADA)
    reporter.link(BO)
    result = reporter("--s3-uri", "s3://no-such-bucket/x", "--s3-endpoint-url", s3_server)
    assert result.code == 1
    failed = [line for line in result.out.splitlines() if line.startswith("[emulator] FAILED") and "not uploaded" in line]
    assert len(failed) == 3 and all("NoSuchBucket" in line and "the local file is kept" in line for line in failed)
    assert result.line(ADA).startswith("[emulator] DONE") and result.line(BO).startswith("[emulator] DONE")
    folder = reporter.reports / reporter.today().isoformat()
    assert sorted(p.name for p in folder.iterdir()) == ["ada.creates.csv", "bo_tests.csv", "summary.csv"]
    assert stored(s3) == {}


@pytest.mark.slow
def test_cron_run_as_a_subprocess_uses_the_environment_and_stays_quiet(reporter, s3, s3_server, aws_env, tmp_path,
                                                                       emulator, tokens_path):
    reporter.link(ADA)
    reports = tmp_path / "cron-reports"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **aws_env,
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), "REPORTS_DIR": str(reports),
           "REPORTS_S3_URI": f"s3://{BUCKET}", "AWS_ENDPOINT_URL_S3": s3_server}
    result = subprocess.run([sys.executable, "-m", "tiktok", "report"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no progress bar without a terminal
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("[emulator] DONE")
    assert all(line.startswith("[emulator] DONE") and "uploaded to s3://" in line for line in lines[1:])
    day = reporter.today().isoformat()  # the subprocess's clock and the emulator's agree on day one
    assert stored(s3) == {f"{day}/ada.creates.csv": (reports / day / "ada.creates.csv").read_bytes(),
                          f"{day}/summary.csv": (reports / day / "summary.csv").read_bytes()}
