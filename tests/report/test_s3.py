"""S3 upload against moto's S3 server on 127.0.0.1: byte-equal objects, keys per the pattern, per-file failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from tests.report.days import DAY1, DAY2, write_report
from tiktok.errors import ConfigError
from tiktok.report.s3 import CONTENT_TYPE, S3URIError, UploadOutcome, make_client, parse_s3_uri, upload_reports


BUCKET = "team-stats"


@pytest.fixture(autouse=True)
def _isolated_aws(aws_env):
    return aws_env


@pytest.fixture
def s3(s3_server):
    """A client on the local server, with a fresh state holding one empty bucket."""
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def report_files(tmp_path) -> list[Path]:
    root = tmp_path / "reports"
    write_report(root, DAY1)
    return write_report(root, DAY2)


def stored(client, bucket: str = BUCKET) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


def digests(files: list[Path]) -> dict[Path, str]:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


@pytest.mark.slow
def test_round_trip_objects_equal_local_files_under_the_key_pattern(s3, s3_server, report_files):
    outcomes = upload_reports(report_files, f"s3://{BUCKET}/tiktok/daily/", endpoint_url=s3_server)
    assert outcomes == [UploadOutcome(report_files[0], "tiktok/daily/2026-11-21/alice.csv", True),
                        UploadOutcome(report_files[1], "tiktok/daily/2026-11-21/summary.csv", True)]
    assert stored(s3) == {o.key: o.path.read_bytes() for o in outcomes}
    head = s3.head_object(Bucket=BUCKET, Key="tiktok/daily/2026-11-21/alice.csv")
    assert head["ContentType"] == CONTENT_TYPE


@pytest.mark.slow
def test_endpoint_from_boto3_environment_variable_and_no_prefix(s3, s3_server, report_files, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    outcomes = upload_reports(report_files, f"s3://{BUCKET}")
    assert [o.ok for o in outcomes] == [True, True]
    assert sorted(stored(s3)) == ["2026-11-21/alice.csv", "2026-11-21/summary.csv"]


def test_missing_bucket_fails_per_file_and_keeps_local_files(s3, s3_server, report_files):
    before = digests(report_files)
    outcomes = upload_reports(report_files, "s3://no-such-bucket/x", endpoint_url=s3_server)
    assert [(o.ok, o.key) for o in outcomes] == [(False, "x/2026-11-21/alice.csv"), (False, "x/2026-11-21/summary.csv")]
    assert all("NoSuchBucket" in o.error for o in outcomes)
    assert digests(report_files) == before


def test_one_bad_file_does_not_stop_the_others(s3, s3_server, report_files, tmp_path):
    stray = tmp_path / "notes.csv"  # not inside a YYYY-MM-DD folder
    stray.write_text("a\r\n")
    gone = report_files[0].with_name("bob.csv")  # listed but never written
    outcomes = upload_reports([stray, gone, *report_files], f"s3://{BUCKET}/p", endpoint_url=s3_server)
    assert [o.ok for o in outcomes] == [False, False, True, True]
    assert "not a YYYY-MM-DD report day" in outcomes[0].error and outcomes[0].key is None
    assert outcomes[1].key == "p/2026-11-21/bob.csv" and outcomes[1].error.startswith("FileNotFoundError")
    assert sorted(stored(s3)) == ["p/2026-11-21/alice.csv", "p/2026-11-21/summary.csv"]


@pytest.mark.slow
def test_stopped_server_is_a_per_file_failure(report_files):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    server.stop()
    before = digests(report_files)
    client = make_client(f"http://{host}:{port}", max_attempts=1)  # no retry back-off in a test
    outcomes = upload_reports(report_files, f"s3://{BUCKET}/p", client=client)
    assert [o.ok for o in outcomes] == [False, False]
    assert all("EndpointConnectionError" in o.error and f"{host}:{port}" in o.error for o in outcomes)
    assert digests(report_files) == before


def test_errors_never_contain_the_secret_key(s3_server, report_files, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-never-shown")
    outcomes = upload_reports(report_files, "s3://no-such-bucket", endpoint_url=s3_server)
    assert all(not o.ok and "s3cr3t" not in o.error for o in outcomes)


@pytest.mark.parametrize("uri, expected", [
    ("s3://team-stats", ("team-stats", "")),
    ("s3://team-stats/", ("team-stats", "")),
    ("s3://team-stats/tiktok", ("team-stats", "tiktok")),
    ("s3://team-stats/tiktok/daily/", ("team-stats", "tiktok/daily")),
    ("s3://my.bucket-01/a b/c", ("my.bucket-01", "a b/c")),
])
def test_parse_s3_uri_valid(uri, expected):
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri, message", [
    ("", "must start with s3://"),
    ("team-stats/tiktok", "must start with s3://"),
    ("https://team-stats.s3.amazonaws.com/x", "must start with s3://"),
    ("S3://team-stats", "must start with s3://"),
    ("s3://", "has no bucket name"),
    ("s3:///prefix", "has no bucket name"),
    ("s3://ab", "is invalid: 3-63 characters"),
    ("s3://" + "a" * 64, "is invalid: 3-63 characters"),
    ("s3://Team-Stats", "is invalid"),
    ("s3://team_stats", "is invalid"),
    ("s3://-team", "is invalid"),
    ("s3://team..stats", "two dots in a row"),
    ("s3://192.168.1.10", "looks like an IP address"),
    ("s3://team-stats/a//b", "has an empty, '.' or '..' part"),
    ("s3://team-stats/a/../b", "has an empty, '.' or '..' part"),
    ("s3://team-stats/a\nb", "control characters"),
])
def test_parse_s3_uri_invalid(uri, message):
    with pytest.raises(S3URIError, match=message) as caught:
        parse_s3_uri(uri)
    assert isinstance(caught.value, ConfigError)


@pytest.mark.slow
def test_bad_uri_is_refused_before_any_upload(report_files):
    with pytest.raises(S3URIError):
        upload_reports(report_files, "s3://x")
