"""Artifacts in an S3-compatible bucket (SENTRI_ARTIFACT_URL=s3://bucket/prefix), so that every Sentri process
serving one database serves what any of them recorded, with no volume shared between machines.

boto3 reads the endpoint and the credentials the way every AWS tool does: AWS_ENDPOINT_URL (or
AWS_ENDPOINT_URL_S3) for MinIO, Ceph, Garage, R2 and the like; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
a profile, or the role of the machine or pod; AWS_REGION. Sentri never logs them nor puts them in a key.

A worker writes a screenshot or trace to a staging folder of its own process (Playwright writes files), then
uploads it and deletes the copy. The routes stream objects through Sentri rather than redirecting to a
presigned URL: the same authorisation as in the folder (a run's trigger token reads its artifacts, nobody
else), the bucket need not be reachable from browsers or CI, no URL that works without credentials ends up
in a CI log, and the pages' Content-Security-Policy stays 'self'."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response

from .folder import Entry, FolderStore, StoreError, valid_key

CHUNK = 64 * 1024
DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
_MISSING = {"404", "NoSuchKey", "NotFound"}
_TYPES = {".png": "image/png", ".zip": "application/zip"}


def _reason(exc: Exception) -> str:
    """One line saying why a call failed (botocore's messages name the operation and the status)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _client():
    custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        # Request threads streaming artifacts and workers uploading them, each holding a connection.
        max_pool_connections=32,
        # Path-style requests (endpoint/bucket/key): S3-compatible servers on a host name of their own (MinIO,
        # a compose service) rarely answer for bucket.host names.
        s3={"addressing_style": "path"} if custom_endpoint else None,
        # botocore >= 1.36 sends CRC32 checksums on every upload, which several S3-compatible servers refuse;
        # only where S3 requires one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", config=config)


class BucketStore:
    """Artifacts as objects under `prefix` in `bucket`; one thread-safe client for the process."""

    def __init__(self, bucket: str, prefix: str, *, url: str) -> None:
        self.bucket, self.prefix, self.url = bucket, prefix, url
        try:
            self.client = _client()
        except (BotoCoreError, ValueError) as exc:  # e.g. an AWS_ENDPOINT_URL that is not a URL
            raise StoreError(_reason(exc)) from None
        self.staging = Path(tempfile.mkdtemp(prefix="sentri-staging-"))
        self._staged = FolderStore(self.staging)
        # The staging folder goes with the process (a crash leaves it to the system's temporary files).
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.staging), ignore_errors=True)
        self._transfer = TransferConfig(max_concurrency=4)

    def describe(self) -> str:
        return f"the bucket {self.url}"

    def _key(self, key: str) -> str:
        if not valid_key(key):
            raise StoreError(f"not an artifact key: {key!r}")
        return self.prefix + key

    def put_file(self, key: str, source: Path) -> None:
        """Upload a file a worker staged, then delete the staged copy."""
        try:
            self.client.upload_file(
                str(source),
                self.bucket,
                self._key(key),
                Config=self._transfer,
                ExtraArgs={"ContentType": _TYPES.get(Path(key).suffix, "application/octet-stream")},
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None
        Path(source).unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise StoreError(f"{self.url}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None
        return True

    def _get(self, key: str) -> dict | None:
        if not valid_key(key):
            return None
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StoreError(f"{self.url}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none; StoreError when the bucket does not answer."""
        got = self._get(key)
        if got is None:
            return None
        try:
            with got["Body"] as body:
                return body.read()
        except (BotoCoreError, OSError) as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None

    def response(
        self, key: str, mimetype: str, *, download_name: str | None = None, max_age: int | None = None
    ) -> Response | None:
        """The object streamed as a response (never held whole in memory), or None when there is none."""
        got = self._get(key)
        if got is None:
            return None
        body = got["Body"]
        response = Response(body.iter_chunks(CHUNK), mimetype=mimetype, direct_passthrough=True)
        response.content_length = got.get("ContentLength")
        response.call_on_close(body.close)
        if download_name is not None:
            response.headers.set("Content-Disposition", "attachment", filename=download_name)
        if max_age is not None:  # as send_file says it for the folder's files
            response.cache_control.public = True
            response.cache_control.max_age = max_age
        return response

    def listing(self, prefix: str) -> Iterator[Entry]:
        """Every object under a prefix ("artifacts/"), with when it was written."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix.rstrip("/")) + "/"
        )
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    yield Entry(item["Key"][len(self.prefix) :], item["LastModified"].timestamp())
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from None

    def delete(self, keys: Iterable[str]) -> int:
        """Remove these objects; return how many the bucket removed (one request per thousand)."""
        names = [self._key(key) for key in keys if valid_key(key)]
        removed = 0
        for start in range(0, len(names), DELETE_BATCH):
            batch = names[start : start + DELETE_BATCH]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise StoreError(f"{self.url}: {_reason(exc)}") from None
            removed += len(batch) - len(answer.get("Errors", ()))
        return removed

    def remove_folder(self, prefix: str) -> None:
        """Nothing to do: a bucket has no folders, only keys."""

    def parts(self) -> list:
        """Where pruning looks for run folders: the bucket, and the staging folder (a file a failed upload or a
        crash left there)."""
        return [self, self._staged]

    def check(self) -> None:
        """Raise StoreError unless the bucket answers with these credentials (at start: fail then, not later)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            why = {"404": "the bucket does not exist", "403": "the credentials may not use this bucket"}.get(
                code
            )
            raise StoreError(why or _reason(exc)) from None
        except BotoCoreError as exc:
            raise StoreError(_reason(exc)) from None

    def close(self) -> None:
        """Remove the staging folder (the process is done with it)."""
        self._cleanup()
