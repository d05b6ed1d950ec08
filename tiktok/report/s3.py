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

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# the s3:// URI, the client and the reasons are shared with the media store: tiktok.s3 (re-exported here)
from tiktok.s3 import S3URIError, make_client, parse_s3_uri
from tiktok.s3 import describe as _describe

__all__ = ["CONTENT_TYPE", "S3URIError", "UploadOutcome", "key_for_file", "make_client", "parse_s3_uri", "s3_key",
           "upload_reports"]
CONTENT_TYPE = "text/csv"


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one local file; ``error`` is None when ``ok``."""

    path: Path
    key: str | None
    ok: bool
    error: str | None = None


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
