"""Pruning the visual store: a picture is kept while a baseline waits, is approved or was rejected (the
worker must still recognise it), or a result of a run within the artifact retention shows it. Anything else,
once older than the grace a worker needs between writing a picture and storing its result, is removed;
so are pictures a crash left half-written (in the instance folder: a bucket has no half-written objects)."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import or_, select

from ..extensions import db
from ..models import Result, Run
from ..review.models import Baseline

_SNAPSHOT_KEYS = ("sha256", "expectedSha256", "diffSha256")


def _kept(cutoff: datetime) -> set[str]:
    kept: set[str] = set()
    for sha, diff in db.session.execute(
        select(Baseline.sha256, Baseline.diff_sha256).where(Baseline.status != "superseded")
    ):
        kept.update(filter(None, (sha, diff)))
    retained = (
        select(Result.snapshots)
        .join(Run, Run.id == Result.run_id)
        .where(Result.snapshots.is_not(None), or_(Run.finished_at.is_(None), Run.finished_at >= cutoff))
    )
    for entries in db.session.scalars(retained.execution_options(yield_per=500)):
        for entry in entries or []:
            kept.update(filter(None, (entry.get(key) for key in _SNAPSHOT_KEYS)))
    return kept


def prune_pictures(artifacts, cutoff: datetime, grace_seconds: float) -> int:
    """Remove the store's unreferenced pictures (and stale partial writes); return how many."""
    listed = list(artifacts.listing("visual/"))
    if not listed:
        return 0
    kept = _kept(cutoff)
    now = time.time()
    doomed = []
    for entry in listed:
        name = entry.key.rsplit("/", 1)[-1]
        if name.endswith(".png") and name.removesuffix(".png") in kept:
            continue
        if now - entry.modified > grace_seconds:
            doomed.append(entry.key)
    return artifacts.delete(doomed)
