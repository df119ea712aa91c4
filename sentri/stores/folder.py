"""The default artifact store: files under the instance folder, a key being a path relative to it.

A picture is written to a temporary name and renamed, so a reader (or a second process on the same shared
folder) never sees half a file. A key that would leave the folder (`..`, an absolute path) is refused: keys
come from database rows, and a row must never make Sentri read or delete a file elsewhere."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from flask import Response, send_file


class StoreError(OSError):
    """The store could not do what was asked (a bucket that does not answer); str() says why."""


class Entry(NamedTuple):
    key: str
    modified: float  # seconds since the epoch


def valid_key(key: str | None) -> bool:
    """Tell whether a key is a plain relative path: no empty, '.' or '..' part, not absolute."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


class FolderStore:
    """Artifacts as files under one folder (the instance folder); also where a worker writes them first."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.staging = self.root  # Playwright writes screenshots and traces in place: nothing to move

    def describe(self) -> str:
        return f"the folder {self.root}"

    def path(self, key: str) -> Path | None:
        """The file of a key, or None for a key that is not one (or would leave the folder)."""
        if not valid_key(key):
            return None
        path = (self.root / key).resolve()
        return path if path.is_relative_to(self.root) else None

    def put_file(self, key: str, source: Path) -> None:
        """Keep a file a worker wrote: here it is already in place (the staging folder is the store's)."""
        target = self.path(key)
        if target is None:
            raise StoreError(f"not an artifact key: {key!r}")
        if Path(source).resolve() != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path(key)
        if target is None:
            raise StoreError(f"not an artifact key: {key!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        path = self.path(key)
        return path is not None and path.is_file()

    def read(self, key: str) -> bytes | None:
        """The file's bytes, or None when it is gone (or cannot be read)."""
        path = self.path(key)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def response(
        self, key: str, mimetype: str, *, download_name: str | None = None, max_age: int | None = None
    ) -> Response | None:
        """The file as a response, or None when there is none."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        return send_file(
            path,
            mimetype=mimetype,
            as_attachment=download_name is not None,
            download_name=download_name,
            max_age=max_age,
        )

    def listing(self, prefix: str) -> Iterator[Entry]:
        """Every file under a prefix ("artifacts/"), with when it was last written."""
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            try:
                if path.is_file():
                    yield Entry(path.relative_to(self.root).as_posix(), path.stat().st_mtime)
            except OSError:
                continue  # removed while walking (another process pruning)

    def delete(self, keys: Iterable[str]) -> int:
        """Remove these files; return how many there were."""
        removed = 0
        for key in keys:
            path = self.path(key)
            if path is not None and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def remove_folder(self, prefix: str) -> None:
        """Remove a run's whole folder ("artifacts/RUN-7/"): its run has expired or is gone."""
        path = self.path(prefix.rstrip("/"))
        if path is not None and path != self.root:
            shutil.rmtree(path, ignore_errors=True)

    def parts(self) -> list[FolderStore]:
        """Where pruning looks for run folders: this folder only."""
        return [self]

    def check(self) -> None:
        """Nothing to check: the instance folder was made by create_app."""

    def close(self) -> None:
        """Nothing to release."""
