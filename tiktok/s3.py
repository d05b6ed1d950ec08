"""What every S3 user here shares: ``s3://bucket/prefix`` values, the boto3 client, and one-line error reasons.

The report upload (``tiktok.report.s3``) and the media store (``tiktok.media.store``) both build their client with
:func:`make_client` and describe a failure with :func:`describe`; :func:`parse_s3_uri` checks REPORTS_S3_URI and
MEDIA_STORE alike. Kept in the plumbing layer so that flows never import each other for it.

The endpoint is boto3's unless ``endpoint_url`` is given; boto3 itself honours ``AWS_ENDPOINT_URL_S3`` (and
``AWS_ENDPOINT_URL``), so a local S3 server can be used without code changes. Credentials and region come from
boto3's usual chain (environment, ``~/.aws``) and never appear in a message: botocore's messages name the
operation, the error code and the endpoint only.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from tiktok.errors import ConfigError

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
MAX_ATTEMPTS = 3  # botocore "standard" retry mode counts the first try
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3 bucket naming rules: 3-63 chars


class S3URIError(ConfigError):
    """An ``s3://bucket/prefix`` value that cannot be used (the message says why)."""


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


def make_client(endpoint_url: str | None = None, *, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """A boto3 S3 client with explicit timeouts; ``endpoint_url=None`` leaves the choice to boto3 (env vars)."""
    import boto3  # imported here so that commands without S3 never load boto3
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                    retries={"max_attempts": max_attempts, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


def describe(exc: BaseException) -> str:
    """A one-line reason; botocore messages name the operation, code and endpoint but never credentials."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"
