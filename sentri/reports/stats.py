"""Run statistics the pages chart: completed runs (per project, per branch), the newest run of each project,
and Web Vitals p75 per run."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from ..extensions import db
from ..models import Result, Run
from ..policies.vitals import METRICS, p75
from ..states import RunStatus


def recent_pass_rates(project_ids: list[int], window: int = 20) -> dict[int, list[Run]]:
    """Return each project's last `window` completed runs, oldest first (an aborted or failed run's counts
    say how far it got, not how the tests fare)."""
    by_project: dict[int, list[Run]] = defaultdict(list)
    if not project_ids:
        return by_project
    ranked = (
        select(
            Run.id, func.row_number().over(partition_by=Run.project_id, order_by=Run.id.desc()).label("rank")
        )
        .where(Run.project_id.in_(project_ids), Run.status == RunStatus.COMPLETED)
        .subquery()
    )
    rows = db.session.scalars(
        select(Run).join(ranked, ranked.c.id == Run.id).where(ranked.c.rank <= window).order_by(Run.id)
    )
    for run in rows:
        by_project[run.project_id].append(run)
    return by_project


def last_runs(project_ids: list[int]) -> dict[int, Run]:
    """Return each project's newest run, whatever its status."""
    if not project_ids:
        return {}
    newest = select(func.max(Run.id)).where(Run.project_id.in_(project_ids)).group_by(Run.project_id)
    return {run.project_id: run for run in db.session.scalars(select(Run).where(Run.id.in_(newest)))}


def completed_runs(project_id: int, window: int, branch: str | None = None) -> list[Run]:
    """Return the project's last `window` completed runs (on `branch`, when given), oldest first."""
    query = select(Run).where(Run.project_id == project_id, Run.status == RunStatus.COMPLETED)
    if branch is not None:
        query = query.where(Run.branch == branch)
    return list(reversed(db.session.scalars(query.order_by(Run.id.desc()).limit(window)).all()))


def chart_runs(project_id: int, window: int, branch: str | None = None) -> list[Run]:
    """Return what the trend charts show, oldest first: the last `window` completed runs (on `branch`) and
    the aborted runs among and after them, at most `window` of those too, so that aborted runs, however many,
    never push a completed one out."""
    completed = completed_runs(project_id, window, branch)
    query = select(Run).where(Run.project_id == project_id, Run.status == RunStatus.ABORTED)
    if branch is not None:
        query = query.where(Run.branch == branch)
    if len(completed) == window:  # older aborted runs are older than anything charted
        query = query.where(Run.id > completed[0].id)
    aborted = db.session.scalars(query.order_by(Run.id.desc()).limit(window)).all()
    return sorted([*completed, *aborted], key=lambda run: run.id)


def branches(project_id: int, limit: int = 100) -> list[str]:
    """Return the branches the project's runs named, most recently run first."""
    rows = db.session.execute(
        select(Run.branch, func.max(Run.id).label("last"))
        .where(Run.project_id == project_id, Run.branch.is_not(None))
        .group_by(Run.branch)
        .order_by(func.max(Run.id).desc())
        .limit(limit)
    )
    return [branch for branch, _ in rows]


def run_vitals_p75(run_ids: list[int]) -> dict[int, dict[str, float | None]]:
    """Return, per run, the p75 of each Web Vital across every page its tests measured."""
    values: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    if run_ids:
        rows = db.session.execute(
            select(Result.run_id, Result.vitals).where(Result.run_id.in_(run_ids), Result.vitals.is_not(None))
        )
        for run_id, pages in rows:
            for page in pages or []:
                for metric in METRICS:
                    values[run_id][metric].append(page.get(metric))
    return {run_id: {m: p75(values[run_id][m]) for m in METRICS} for run_id in run_ids}
