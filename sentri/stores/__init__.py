"""The artifact store: where failure screenshots, traces and the visual store's pictures are kept, and where
the routes serve them from and pruning removes them.

By default the instance folder (stores/folder.py), as always: instance/artifacts/RUN-n/... and
instance/visual/ab/<sha256>.png. With SENTRI_ARTIFACT_URL=s3://bucket/prefix, an S3-compatible bucket
(stores/bucket.py) under the same keys after the prefix, so every Sentri process serving one database serves
what any of them recorded. A key is `artifacts/RUN-<n>/<position>-attempt<n>.<png|zip>` or
`visual/<ab>/<sha256>.png`: a run id, numbers and a hash, never a test's name, a URL or a typed value."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from flask import Flask

from ..runtime import runtime
from .folder import FolderStore, StoreError, valid_key

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["FolderStore", "StoreError", "artifact_store", "open_store", "parse_url", "valid_key"]


# S3's rules for a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a
# letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_PREFIX = 256


class BucketAddress(NamedTuple):
    bucket: str
    prefix: str  # "" or "some/prefix/": what every key is put under


def parse_url(value: str) -> BucketAddress:
    """Read SENTRI_ARTIFACT_URL; ValueError says what is wrong (never repeating credentials written into it)."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() != "s3":
        raise ValueError(
            "use s3://bucket or s3://bucket/prefix (unset, artifacts stay in the instance folder)"
        )
    if "@" in parts.netloc:
        raise ValueError(
            "credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if ":" in parts.netloc:  # a port, or a key and secret without the @: never repeated either
        raise ValueError("s3://bucket names a bucket, not a server: set the endpoint in AWS_ENDPOINT_URL")
    if parts.query or parts.fragment or value.strip().endswith(("?", "#")):
        raise ValueError("s3://bucket/prefix takes no query or fragment")
    bucket = parts.netloc
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{bucket!r} is not an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)"
        )
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") or not _PREFIX_PART.match(s) for s in segments):
        raise ValueError(
            "the prefix may hold letters, digits, '.', '_', '-' and '/' only, and no '.' or '..' part"
        )
    prefix = "".join(f"{s}/" for s in segments)
    if len(prefix) > MAX_PREFIX:
        raise ValueError(f"the prefix is longer than {MAX_PREFIX} characters")
    return BucketAddress(bucket, prefix)


def open_store(made: Settings, instance_path: str):
    """The store the settings name: the instance folder, or the bucket of SENTRI_ARTIFACT_URL."""
    address = made.artifact_bucket
    if address is None:
        return FolderStore(instance_path)
    # lazy: boto3 and botocore take ~0.4 s to import and set up; an instance-folder server never needs them.
    from .bucket import BucketStore

    return BucketStore(address.bucket, address.prefix, url=made.artifact_url or "")


def artifact_store(app: Flask | None = None):
    """The app's artifact store (made once by create_app)."""
    return runtime(app).artifacts
