"""The Web Vitals regression gate's baseline: which earlier runs a run's pages are judged against.

A run's baseline is the project's newest `baselineRuns` completed runs before it on `baselineBranch` (a
run that named no branch counts as on it), on the same browser and device. A run the gate found a
regression in (enforce or advisory) is left out (`excludeRegressedRuns`, default true): a slowdown pushed
to the baseline branch goes on being flagged instead of becoming the baseline after two or three pushes
(issue 28). At most MAX_SCANNED candidate runs are read to find them.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import or_, select

from ..extensions import db
from ..models import Project, Run
from . import regression

BATCH = 100
MAX_SCANNED = 1_000


def regressed(vitals_result: dict | None) -> bool:
    """Did the regression gate find a regression in this run (failing it in enforce mode)?"""
    return bool(((vitals_result or {}).get("regression") or {}).get("findings"))


def runs_for(project: Project, browser: str, device: str, before: int | None = None) -> list[int]:
    """The keys of the baseline runs of a run on this browser and device (started after every run below
    `before`, or now), newest first."""
    conf = regression.settings(project.vitals_regression)
    query = (select(Run.id, Run.vitals_result)
             .where(Run.project_id == project.id, Run.status == "completed", Run.browser == browser,
                    Run.device == device,
                    or_(Run.branch == conf["baselineBranch"], Run.branch.is_(None))))
    if before is not None:
        query = query.where(Run.id < before)
    chosen: list[int] = []
    for key in _eligible(query, exclude=conf["excludeRegressedRuns"]):
        if len(chosen) >= conf["baselineRuns"]:
            break
        chosen.append(key)
    return chosen


def _eligible(query, *, exclude: bool) -> Iterator[int]:
    """Run keys, newest first, regressed runs left out when `exclude`; at most MAX_SCANNED runs are read."""
    last, scanned = None, 0
    while scanned < MAX_SCANNED:
        page = query if last is None else query.where(Run.id < last)
        rows = db.session.execute(page.order_by(Run.id.desc()).limit(BATCH)).all()
        for key, result in rows:
            if not (exclude and regressed(result)):
                yield key
        scanned += len(rows)
        if len(rows) < BATCH:
            return
        last = rows[-1][0]
