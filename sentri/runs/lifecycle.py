"""Runs: start one under the project's lock, record results as tests end, finish, recover, serialise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import origins
from ..database import write
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import (
    ACTIVE_RUN_STATUSES,
    Project,
    Result,
    Run,
    TestCase,
    parse_public_id,
    utcnow,
)
from . import gates, history, planner, selection, vitals
from .options import RunOptions

RESTARTED = "The server restarted while the run was in progress."
STOPPED = "The server was stopped while the run was in progress."


def _approved_tests(project: Project) -> list[TestCase]:
    return list(
        db.session.scalars(
            select(TestCase)
            .where(TestCase.project_id == project.id, TestCase.review_status == "approved")
            .order_by(TestCase.id)
        )
    )


def _check_settings(project: Project, options: RunOptions) -> None:
    """Refuse an environment or test-data set that is not the project's, and a baseUrl outside the
    project's origins (400 naming the field)."""
    from .. import environments

    for field, value, lookup in (("environmentId", options.environment_id, environments.get_environment),
                                 ("testDataSetId", options.data_set_id, environments.get_data_set)):
        if value is not None:
            try:
                lookup(project, value)
            except NotFound as exc:
                raise ValidationFailed(f"{field}: {exc.message}") from None
    if options.base_url is not None:
        check_base_url(project, options.base_url)


def check_base_url(project: Project, base_url: str) -> None:
    """Refuse a run's baseUrl whose origin is not the project's, one of its environments', or allowed:
    the run's secrets are typed into that origin, so a trigger token must not move them elsewhere."""
    from .. import environments

    known = [project.base_url] + [env.base_url for env in environments.list_environments(project)]
    trusted = origins.TrustedOrigins(known, project.allowed_origins)
    if not trusted.allows(base_url):
        origin = origins.origin_of(base_url)
        raise ValidationFailed(
            f"baseUrl: {origin} is not one of project {project.public_id}'s origins ({trusted.describe()}); "
            "add it (or a pattern such as https://pr-*.preview.example.com) to the project's allowedOrigins "
            "(Settings in the web UI, PATCH /api/v1/projects/:id, or flask projects allow-origin)."
        )


def active_run(project_id: int) -> Run | None:
    """Return the project's queued or running run, if any."""
    return db.session.scalar(
        select(Run).where(Run.project_id == project_id, Run.status.in_(ACTIVE_RUN_STATUSES)).limit(1)
    )


def start(project: Project, options: RunOptions, *, source: str, triggered_by: str) -> Run:
    """Create a queued run of the project's approved tests in risk order; tests the budget leaves out
    are stored as skipped (over_budget) at once. 400 without tests, 409 when a run is active."""
    has_tests = db.session.scalar(select(TestCase.id).where(TestCase.project_id == project.id).limit(1))
    if has_tests is None:
        raise ValidationFailed(f"Project {project.public_id} has no tests: crawl / add tests first.")
    tests = _approved_tests(project)
    if not tests:
        raise ValidationFailed(f"Project {project.public_id} has no approved tests: approve tests first.")
    tests = selection.choose(project, tests, options.selection)
    _check_settings(project, options)
    by_id = {t.id: t for t in tests}
    order = planner.plan(
        history.histories(tests),
        budget_minutes=options.budget_minutes,
        changed_pages=options.changed_pages,
        now=utcnow(),
        parallel=options.parallel_workers,
    )
    plan = [
        {**entry, "position": position, "testId": f"TST-{entry['testId']}", "testName": by_id[entry["testId"]].name}
        for position, entry in enumerate(order, start=1)
    ]
    over_budget = [entry for entry in plan if entry["plan"] == "over_budget"]
    run = Run(
        project_id=project.id,
        status="queued",
        trigger_source=source,
        triggered_by=triggered_by,
        options={**options.as_json(), "selection": options.selection.describe(tests)},
        callback_url=options.callback_url,
        total=len(tests),
        skipped=len(over_budget),
        plan=plan,
        integrations={"github": options.github} if options.github else None,
    )
    try:
        with write():
            db.session.add(run)
            db.session.flush()
            for entry in over_budget:
                test = by_id[int(entry["testId"].removeprefix("TST-"))]
                db.session.add(
                    Result(run_id=run.id, test_id=test.id, test_name=test.name, position=entry["position"],
                           status="skipped", skip_reason="over_budget", attempts=[],
                           base_url=options.base_url or project.base_url)
                )
    except IntegrityError:
        # The partial unique index refused a second active run: report the one that holds the lock.
        active = active_run(project.id)
        raise Conflict(
            f"Project {project.public_id} already has an active run.",
            runId=active.public_id if active else None,
        ) from None
    return run


def get(public_id: str) -> Run:
    """Return the run with this id or raise 404."""
    key = parse_public_id("RUN", public_id)
    run = db.session.get(Run, key) if key else None
    if run is None:
        raise NotFound(f"Run {public_id} not found.")
    return run


def get_in_project(project: Project, public_id: str) -> Run:
    """Return the project's run with this id; another project's run is a 404."""
    run = get(public_id)
    if run.project_id != project.id:
        raise NotFound(f"Run {public_id} not found in project {project.public_id}.")
    return run


def list_for(project: Project, *, offset: int = 0, limit: int = 50) -> tuple[list[Run], int]:
    """Return a page of the project's runs, newest first, and the total."""
    from sqlalchemy import func

    total = db.session.scalar(select(func.count(Run.id)).where(Run.project_id == project.id)) or 0
    page = db.session.scalars(
        select(Run).where(Run.project_id == project.id).order_by(Run.id.desc()).offset(offset).limit(limit)
    )
    return list(page), total


def mark_running(run_id: int) -> bool:
    """Move a queued run to running when its first test starts; False if it is no longer active."""
    with write():
        changed = db.session.execute(
            update(Run).where(Run.id == run_id, Run.status == "queued").values(status="running", started_at=utcnow())
        ).rowcount
        if changed:
            return True
        return db.session.scalar(select(Run.status).where(Run.id == run_id)) == "running"


def record_result(run_id: int, result: dict[str, Any]) -> None:
    """Store one test's outcome and bump the run's counters, in one transaction."""
    status = result["status"]
    with write():
        db.session.add(Result(run_id=run_id, **result))
        counters = {status: getattr(Run, status) + 1}
        if result.get("flaky"):
            counters["flaky"] = Run.flaky + 1
        db.session.execute(update(Run).where(Run.id == run_id).values(**counters))


def finish(run_id: int, status: str, error: str | None = None) -> bool:
    """Put an active run in a terminal state (releasing the project's lock), evaluate its gates and
    budgets, and refresh its tests' flaky scores; False if the run had already ended."""
    with write():
        changed = db.session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status.in_(ACTIVE_RUN_STATUSES))
            .values(status=status, error=error, finished_at=utcnow())
        ).rowcount
        if changed:
            run = db.session.get(Run, run_id, populate_existing=True)
            project = db.session.get(Project, run.project_id)
            run.gate_result = gates.evaluate_gates(
                project.quality_gates, passed=run.passed, failed=run.failed, flaky=run.flaky
            )
            run.vitals_result = vitals.evaluate_budgets(project.vitals_budgets, vitals_pages(run))
            db.session.flush()
            history.update_flaky_scores(run_id)
    return bool(changed)


def vitals_pages(run: Run) -> list[dict[str, Any]]:
    """Return one row per page any test of the run visited, with the test it belongs to."""
    return [
        {"testId": f"TST-{result.test_id}" if result.test_id else None, "testName": result.test_name, **page}
        for result in run.results
        for page in (result.vitals or [])
    ]


def fail_interrupted(message: str = RESTARTED) -> list[int]:
    """Fail every run a previous process left active; return their ids (their callbacks are due)."""
    ids = list(db.session.scalars(select(Run.id).where(Run.status.in_(ACTIVE_RUN_STATUSES))))
    return [run_id for run_id in ids if finish(run_id, "failed", message)]
