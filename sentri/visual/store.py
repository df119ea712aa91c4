"""The visual store: every screenshot a baseline or a result points at, as instance/visual/ab/<sha256>.png.

Named by content, so a picture that does not change is written once however many runs take it, and a
baseline row only holds the hash. Files are written to a temporary name and renamed, so a reader (or a
second process on the same shared folder) never sees half a PNG. Nothing over the size limits (limits.py) is
written: put() reads the PNG header first."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from .limits import checked_size

_SHA = re.compile(r"^[0-9a-f]{64}$")


def root(instance_path: str | Path) -> Path:
    return Path(instance_path) / "visual"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def path_of(store: Path, sha: str) -> Path:
    """The file of a hash; ValueError for anything that is not one (a path from outside never gets in)."""
    if not _SHA.match(sha or ""):
        raise ValueError(f"not an image hash: {sha!r}")
    return store / sha[:2] / f"{sha}.png"


def put(store: Path, data: bytes) -> str:
    """Store a PNG once; return its hash. ValueError for a non-PNG or a picture over the size limits."""
    checked_size(data, "stored")
    sha = digest(data)
    target = path_of(store, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return sha


def read(store: Path, sha: str) -> bytes | None:
    """The PNG of a hash, or None when its file is gone."""
    try:
        return path_of(store, sha).read_bytes()
    except (OSError, ValueError):
        return None
