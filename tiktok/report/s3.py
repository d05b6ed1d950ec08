"""Upload the day's report files to S3 (or any S3-compatible server) with boto3.

Key pattern: ``<prefix>/YYYY-MM-DD/<file name>``, e.g. ``s3://team-stats/tiktok`` and
``reports/2026-11-20/alice.csv`` give key ``tiktok/2026-11-20/alice.csv``; with no prefix (``s3://team-stats``)
the key is ``2026-11-20/alice.csv``. The date is the name of the file's folder, as ``csvfiles`` lays them out.

The endpoint is boto3's unless ``endpoint_url`` is given; boto3 itself honours ``AWS_ENDPOINT_URL_S3`` (and
``AWS_ENDPOINT_URL``), so a local S3 server can be used without code changes. Credentials and region come from
boto3's usual chain (environment, ``~/.aws``). Each file is uploaded on its own: a failure is reported in that
file's outcome and the others still go. Local files are never removed or changed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tiktok.errors import ConfigError

CONTENT_TYPE = "text/csv"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
MAX_ATTEMPTS = 3  # botocore "standard" retry mode counts the first try
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3 bucket naming rules: 3-63 chars


class S3URIError(ConfigError):
    """An ``s3://bucket/prefix`` value that cannot be used (the message says why)."""


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one local file; ``error`` is None when ``ok``."""

    path: Path
    key: str | None
    ok: bool
    error: str | None = None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix")``; the prefix may be empty."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise S3URIError(f"S3 URI must start with s3:// (got {str(uri)[:80]!r})")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    _check_bucket(bucket)
    prefix = prefix.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise S3URIError(f"S3 prefix {prefix!r} has an empty, '.' or '..' part")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in prefix):
        raise S3URIError("S3 prefix contains control characters")
    return bucket, prefix


def _check_bucket(bucket: str) -> None:
    if not bucket:
        raise S3URIError("S3 URI has no bucket name (expected s3://bucket/prefix)")
    if not _BUCKET.match(bucket):
        raise S3URIError(f"S3 bucket name {bucket!r} is invalid: 3-63 characters of a-z, 0-9, '.' and '-', "
                         "starting and ending with a letter or digit")
    if ".." in bucket:
        raise S3URIError(f"S3 bucket name {bucket!r} has two dots in a row")
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        return
    raise S3URIError(f"S3 bucket name {bucket!r} looks like an IP address")


def s3_key(prefix: str, day: date, file_name: str) -> str:
    """The object key for one report file: ``<prefix>/YYYY-MM-DD/<file name>`` (no prefix part when empty)."""
    return "/".join(part for part in (prefix, day.isoformat(), file_name) if part)


def key_for_file(prefix: str, path: Path) -> str:
    """The key for a file laid out as ``<reports root>/YYYY-MM-DD/<file name>``; ValueError otherwise."""
    try:
        day = date.fromisoformat(path.parent.name)
    except ValueError:
        raise ValueError(f"folder {path.parent.name!r} is not a YYYY-MM-DD report day") from None
    return s3_key(prefix, day, path.name)


def make_client(endpoint_url: str | None = None, *, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """A boto3 S3 client with explicit timeouts; ``endpoint_url=None`` leaves the choice to boto3 (env vars)."""
    import boto3  # imported here so the rest of the report works without boto3 installed
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                    retries={"max_attempts": max_attempts, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


def upload_reports(files: Iterable[str | os.PathLike[str]], uri: str, *, endpoint_url: str | None = None,
                   client: Any = None) -> list[UploadOutcome]:
    """Upload each file under the key pattern; one outcome per file, in order. Raises S3URIError for a bad URI."""
    bucket, prefix = parse_s3_uri(uri)
    paths = [Path(item) for item in files]
    try:
        client = client if client is not None else make_client(endpoint_url)
    except Exception as exc:  # boto3 refuses bad settings (region, endpoint) when the client is built
        return [UploadOutcome(path, None, False, f"S3 client could not be created: {_describe(exc)}") for path in paths]
    return [_upload_one(client, bucket, prefix, path) for path in paths]


def _upload_one(client: Any, bucket: str, prefix: str, path: Path) -> UploadOutcome:
    try:
        key = key_for_file(prefix, path)
    except ValueError as exc:
        return UploadOutcome(path, None, False, str(exc))
    try:
        with path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE)
    except Exception as exc:  # botocore raises many unrelated classes; each is this file's failure, not the run's
        return UploadOutcome(path, key, False, _describe(exc))
    return UploadOutcome(path, key, True)


def _describe(exc: BaseException) -> str:
    """A one-line reason; botocore messages name the operation, code and endpoint but never credentials."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"
