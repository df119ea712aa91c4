"""A real S3-compatible server on loopback for the artifact store's tests: moto in server mode
(`python -m moto.server`), its own process on a free port of 127.0.0.1. It keeps everything in memory; a
test makes a bucket of its own (`new_bucket`), so tests never see each other's objects.

    with S3Server() as s3:
        bucket = s3.new_bucket()
        env = s3.env          # AWS_ENDPOINT_URL and credentials for a Sentri process (or monkeypatch)
        s3.keys(bucket)       # what the bucket holds
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import boto3
import requests

from tests.support.server import _PROXY_VARS, free_port


class S3Server:
    """moto's S3 server as a subprocess; a context manager that always stops it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a Sentri process needs to reach it, as the standard AWS variables (moto takes any key)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "sentri-test",
            "AWS_SECRET_ACCESS_KEY": "sentri-test",
            "AWS_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def start(self) -> S3Server:
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        session = requests.Session()
        session.trust_env = False
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self.proc.returncode}")
            with contextlib.suppress(requests.RequestException):
                if session.get(f"{self.url}/moto-api/", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("moto's server did not answer within 60 s")
            time.sleep(0.1)
        session.close()
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: its group is its pid
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self):
        env = self.env
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        ).client("s3", endpoint_url=self.url)

    def new_bucket(self) -> str:
        name = f"sentri-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))
