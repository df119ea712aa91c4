"""The visual store: every screenshot a baseline or a result points at, as visual/ab/<sha256>.png in the artifact
store (stores/: the instance folder, or a bucket).

Named by content, so a picture that does not change is written once however many runs take it, and a
baseline row only holds the hash. Nothing over the size limits (limits.py) is written: put() reads the PNG
header first."""

from __future__ import annotations

import hashlib
import re

from .limits import checked_size

_SHA = re.compile(r"^[0-9a-f]{64}$")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(sha: str) -> str:
    """The store key of a hash; ValueError for anything that is not one (a path from outside never gets in)."""
    if not _SHA.match(sha or ""):
        raise ValueError(f"not an image hash: {sha!r}")
    return f"visual/{sha[:2]}/{sha}.png"


def put(artifacts, data: bytes) -> str:
    """Store a PNG once; return its hash. ValueError for a non-PNG or a picture over the size limits, OSError
    when the store cannot write it."""
    checked_size(data, "stored")
    sha = digest(data)
    key = key_of(sha)
    if not artifacts.exists(key):
        artifacts.put_bytes(key, data, "image/png")
    return sha


def read(artifacts, sha: str) -> bytes | None:
    """The PNG of a hash, or None when it is gone; OSError when the store does not answer."""
    try:
        key = key_of(sha)
    except ValueError:
        return None
    return artifacts.read(key)
