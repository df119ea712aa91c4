"""Pruning the visual store: a picture is kept while a baseline waits, is approved or was rejected (the
worker must still recognise it), or a result of a run within the artifact retention shows it. Anything else,
once older than the grace a worker needs between writing a picture and storing its result, is removed;
so are pictures a crash left half-written."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select

from ..extensions import db
from ..models import Result, Run
from ..review.models import Baseline
from . import store

_SNAPSHOT_KEYS = ("sha256", "expectedSha256", "diffSha256")


def _kept(cutoff: datetime) -> set[str]:
    kept: set[str] = set()
    for sha, diff in db.session.execute(
            select(Baseline.sha256, Baseline.diff_sha256).where(Baseline.status != "superseded")):
        kept.update(filter(None, (sha, diff)))
    retained = select(Result.snapshots).join(Run, Run.id == Result.run_id).where(
        Result.snapshots.is_not(None), or_(Run.finished_at.is_(None), Run.finished_at >= cutoff))
    for entries in db.session.scalars(retained.execution_options(yield_per=500)):
        for entry in entries or []:
            kept.update(filter(None, (entry.get(key) for key in _SNAPSHOT_KEYS)))
    return kept


def prune_pictures(instance_path: str | Path, cutoff: datetime, grace_seconds: float) -> int:
    """Remove the store's unreferenced pictures (and stale partial writes); return how many files."""
    folder = store.root(instance_path)
    if not folder.is_dir():
        return 0
    kept = _kept(cutoff)
    removed = 0
    now = time.time()
    for path in folder.glob("*/*"):
        if not path.is_file() or (path.suffix == ".png" and path.stem in kept):
            continue
        if now - path.stat().st_mtime > grace_seconds:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
