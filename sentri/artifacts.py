"""Failure artifacts (screenshots, traces) in the instance folder, one folder per run
(artifacts/RUN-n), pruned after SENTRI_ARTIFACT_RETENTION_DAYS (default 30) so the folder does not
grow without bound. Pruning walks the folders, not only the rows: a run that no longer exists (its
project was deleted) loses its folder, and files no result points at (a crash between writing a file
and storing its row) are removed once their run has ended."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import or_, select, update

from .database import write
from .extensions import db
from .models import Result, Run, utcnow
from .visual.prune import prune_pictures

log = logging.getLogger("sentri.artifacts")
_last_prune = 0.0
_lock = threading.Lock()
PRUNE_EVERY_SECONDS = 3600
# A file of an ended run that no result points at is left this long before it counts as orphaned.
ORPHAN_GRACE_SECONDS = 600
_RUN_FOLDER = re.compile(r"^RUN-([1-9][0-9]*)$")


def run_folder(instance_path: str, run_public_id: str) -> Path:
    """Return the folder a run's artifacts are written to."""
    return Path(instance_path) / "artifacts" / run_public_id


def remove_run_folders(instance_path: str, run_public_ids: list[str]) -> None:
    """Delete the artifact folders of these runs (e.g. of a deleted project)."""
    for public_id in run_public_ids:
        shutil.rmtree(run_folder(instance_path, public_id), ignore_errors=True)


def prune(app: Flask) -> int:
    """Delete the artifacts of runs that finished more than the retention ago; return how many files."""
    cutoff = utcnow() - timedelta(days=app.config["SENTRI_ARTIFACT_RETENTION_DAYS"])
    root = Path(app.instance_path).resolve()
    removed = 0
    with app.app_context():
        rows = db.session.execute(
            select(Result.id, Result.screenshot, Result.trace)
            .join(Run, Run.id == Result.run_id)
            .where(Run.finished_at < cutoff, or_(Result.screenshot.is_not(None), Result.trace.is_not(None)))
        ).all()
        for _id, *paths in rows:
            for relative in filter(None, paths):
                path = (root / relative).resolve()
                if path.is_relative_to(root) and path.exists():
                    path.unlink()
                    removed += 1
        if rows:
            with write():
                db.session.execute(
                    update(Result).where(Result.id.in_([r[0] for r in rows])).values(screenshot=None, trace=None)
                )
        removed += _prune_folders(root, cutoff)
        removed += prune_pictures(root, cutoff, ORPHAN_GRACE_SECONDS)
    if removed:
        log.info("pruned %d artifact file(s) older than %s or left without a run", removed, cutoff.date())
    return removed


def _prune_folders(root: Path, cutoff) -> int:
    """Walk artifacts/RUN-n folders: remove those of missing or expired runs, and orphaned files."""
    base = root / "artifacts"
    if not base.is_dir():
        return 0
    folders = {int(m.group(1)): path for path in base.iterdir() if path.is_dir() and (m := _RUN_FOLDER.match(path.name))}
    if not folders:
        return 0
    runs = {row.id: row for row in db.session.execute(
        select(Run.id, Run.status, Run.finished_at).where(Run.id.in_(list(folders)))
    )}
    kept = set()
    for relative in db.session.scalars(
        select(Result.screenshot).where(Result.run_id.in_(list(folders)), Result.screenshot.is_not(None))
        .union_all(select(Result.trace).where(Result.run_id.in_(list(folders)), Result.trace.is_not(None)))
    ):
        kept.add((root / relative).resolve())
    removed = 0
    for run_id, folder in folders.items():
        run = runs.get(run_id)
        if run is None or (run.finished_at is not None and run.finished_at < cutoff):
            removed += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            continue
        if run.finished_at is None:
            continue  # still running: its files are being written
        for path in folder.iterdir():
            if path.is_file() and path.resolve() not in kept and time.time() - path.stat().st_mtime > ORPHAN_GRACE_SECONDS:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def prune_in_background(app: Flask) -> None:
    """Prune at most once an hour (runs end often; the retention is in days)."""
    global _last_prune
    with _lock:
        if time.monotonic() - _last_prune < PRUNE_EVERY_SECONDS and _last_prune:
            return
        _last_prune = time.monotonic()
    try:
        prune(app)
    except Exception:  # never let housekeeping disturb a run
        log.exception("pruning artifacts failed")
