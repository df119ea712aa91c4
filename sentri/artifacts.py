"""Failure artifacts (screenshots, traces) in the artifact store (stores/: the instance folder, or a bucket),
under one key prefix per run (artifacts/RUN-n/), pruned after SENTRI_ARTIFACT_RETENTION_DAYS (default 30) so
the store does not grow without bound. Pruning walks what the store holds, not only the rows: a run that no
longer exists (its project was deleted) loses its files, and files no result points at (a crash between
writing a file and storing its row) are removed once their run has ended."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import or_, select, update

from .database import write
from .extensions import db
from .models import Result, Run, utcnow
from .settings import settings
from .stores import artifact_store
from .visual.prune import prune_pictures

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600
# A file of an ended run that no result points at is left this long before it counts as orphaned.
ORPHAN_GRACE_SECONDS = 600
_RUN_KEY = re.compile(r"^artifacts/RUN-([1-9][0-9]*)/")
_KINDS = ("screenshot", "trace")


def run_folder(staging: str | Path, run_public_id: str) -> Path:
    """Return the folder a run's artifacts are written to by a worker (the store's staging folder)."""
    return Path(staging) / "artifacts" / run_public_id


def keep_files(app: Flask, result: dict) -> None:
    """Turn a result's screenshot and trace files (written in the store's staging folder) into store keys, and
    put them in the store. A file the store refuses is dropped and logged: the result is recorded without it."""
    store = artifact_store(app)
    for kind in _KINDS:
        path = result.get(kind)
        if not path:
            continue
        key: str | None = Path(path).relative_to(store.staging).as_posix()
        try:
            store.put_file(key, Path(path))
        except OSError as exc:
            log.warning(
                "the %s of test %s could not be stored in %s: %s",
                kind,
                result.get("position"),
                store.describe(),
                exc,
            )
            key = None
        result[kind] = key


def project_keys(project_id: int) -> list[str]:
    """The keys the results of a project's runs point at: read them before the rows are deleted."""
    rows = db.session.execute(
        select(Result.screenshot, Result.trace)
        .join(Run, Run.id == Result.run_id)
        .where(Run.project_id == project_id, or_(Result.screenshot.is_not(None), Result.trace.is_not(None)))
    )
    return [key for row in rows for key in row if key]


def remove_run_files(app: Flask, keys: list[str], run_public_ids: list[str]) -> None:
    """Delete these runs' artifacts (of a deleted project), by their keys: one request per thousand in a bucket.
    What a store cannot delete now, or no row pointed at, goes with the next prune (its run is gone)."""
    store = artifact_store(app)
    try:
        store.delete(keys)
        for part in store.parts():
            for public_id in run_public_ids:
                part.remove_folder(f"artifacts/{public_id}/")
    except OSError as exc:
        log.warning(
            "the artifacts of %d deleted run(s) are left to the next prune: %s", len(run_public_ids), exc
        )


def prune(app: Flask) -> int:
    """Delete the artifacts of runs that finished more than the retention ago; return how many files."""
    cutoff = utcnow() - timedelta(days=settings(app).artifact_retention_days)
    store = artifact_store(app)
    removed = 0
    with app.app_context():
        rows = db.session.execute(
            select(Result.id, Result.screenshot, Result.trace)
            .join(Run, Run.id == Result.run_id)
            .where(Run.finished_at < cutoff, or_(Result.screenshot.is_not(None), Result.trace.is_not(None)))
        ).all()
        if rows:
            with write():
                db.session.execute(
                    update(Result)
                    .where(Result.id.in_([r[0] for r in rows]))
                    .values(screenshot=None, trace=None)
                )
        # A key outside a run's folder is found by its row only (the walk below sees run folders).
        strays = [key for _id, *keys in rows for key in keys if key and not _RUN_KEY.match(key)]
        removed += store.delete(strays)
        for part in store.parts():
            removed += _prune_runs(part, cutoff)
        removed += prune_pictures(store, cutoff, ORPHAN_GRACE_SECONDS)
    if removed:
        log.info("pruned %d artifact file(s) older than %s or left without a run", removed, cutoff.date())
    return removed


def _prune_runs(part, cutoff) -> int:
    """Walk artifacts/RUN-n/: remove the files of missing or expired runs, and orphaned files of ended ones."""
    by_run: dict[int, list] = {}
    for entry in part.listing("artifacts/"):
        if match := _RUN_KEY.match(entry.key):
            by_run.setdefault(int(match.group(1)), []).append(entry)
    if not by_run:
        return 0
    runs = {
        row.id: row
        for row in db.session.execute(
            select(Run.id, Run.status, Run.finished_at).where(Run.id.in_(list(by_run)))
        )
    }
    kept = set(
        db.session.scalars(
            select(Result.screenshot)
            .where(Result.run_id.in_(list(by_run)), Result.screenshot.is_not(None))
            .union_all(select(Result.trace).where(Result.run_id.in_(list(by_run)), Result.trace.is_not(None)))
        )
    )
    doomed, emptied = [], []
    now = time.time()
    for run_id, entries in by_run.items():
        run = runs.get(run_id)
        if run is None or (run.finished_at is not None and run.finished_at < cutoff):
            doomed += [entry.key for entry in entries]
            emptied.append(f"artifacts/{Run.format_id(run_id)}/")
        elif run.finished_at is not None:  # still running: its files are being written
            doomed += [
                e.key for e in entries if e.key not in kept and now - e.modified > ORPHAN_GRACE_SECONDS
            ]
    removed = part.delete(doomed)
    for prefix in emptied:
        part.remove_folder(prefix)
    return removed


class Pruner:
    """Prunes at most once an hour (runs end often; the retention is in days): one per process (its
    runtime's hooks), called on a housekeeping thread at a run's end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: float | None = None  # monotonic time of the last prune this process started

    def maybe(self, app: Flask) -> None:
        with self._lock:
            if self.last is not None and time.monotonic() - self.last < PRUNE_EVERY_SECONDS:
                return
            self.last = time.monotonic()
        try:
            prune(app)
        except Exception:  # never let housekeeping disturb a run
            log.exception("pruning artifacts failed")
