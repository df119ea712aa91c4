"""Failure artifacts (screenshots, traces) in the instance folder, pruned after
SENTRI_ARTIFACT_RETENTION_DAYS (default 30) so the folder does not grow without bound."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import or_, select, update

from .database import write
from .extensions import db
from .models import Result, Run, utcnow

log = logging.getLogger("sentri.artifacts")
_last_prune = 0.0
_lock = threading.Lock()
PRUNE_EVERY_SECONDS = 3600


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
    if removed:
        log.info("pruned %d artifact file(s) older than %s", removed, cutoff.date())
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
