"""A run's life, held in the database: the database is the queue, and any Sentri process serving it may
execute any run (healthchecks' sendalerts is the model). Claiming and recording its tests is claims.py.

start()     one transaction: the run and one row per planned test, `queued` with its plan position, or
            `skipped` at once with its reason (over_budget, deselected); a run left with nothing to
            execute ends in that same transaction.
abort()     queued rows become skipped and the run is flagged; the workers running its tests see the
fail()      flag within seconds and stop them. fail() is the same for a run that cannot go on.
ending.py   the one way a run ends: end() takes the end in the caller's transaction (`notify_state`
            ending: still active to readers), so that the last test's write holds no lock for what follows;
            finish(), after that commit: gates, budgets and the regression gate are read, then one short write
            commits the status with them (the verdict); hooks.py then fires what follows, once per run.

No function here holds a lock across anything: they are short transactions, and what follows an end
(network calls) runs on other threads after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .. import environments, origins
from ..crawl.models import Crawl
from ..database import write
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Project, Result, Run, TestCase, TriggerToken, utcnow
from ..policies import history, planner, quarantine, regression, selection
from ..public_ids import get_or_404
from ..reports.serialize import verdict_of
from ..runs.options import RunOptions
from ..states import CrawlStatus, ResultStatus, RunStatus
from . import notices
from .ending import end, end_if_done

log = logging.getLogger(__name__)

RESTARTED = "The server restarted while the run was in progress."
# What a stopped run's remaining tests are skipped as, by the run's stop_reason.
STOP_SKIP_REASON = {"aborted": "aborted", "failed": "run_failed"}


# -- reading -------------------------------------------------------------------------------------------


def get(public_id: str) -> Run:
    """Return the run with this id or raise 404."""
    return get_or_404(Run, public_id)


def get_in_project(project: Project, public_id: str) -> Run:
    """Return the project's run with this id; another project's run is a 404."""
    run = get(public_id)
    if run.project_id != project.id:
        raise NotFound(f"Run {public_id} not found in project {project.public_id}.")
    return run


SHOWN_VERDICTS = ("passed", "failed", "aborted", "pending")


def list_for(
    project: Project,
    *,
    offset: int = 0,
    limit: int = 50,
    branch: str | None = None,
    shown_verdict: str | None = None,
) -> tuple[list[Run], int]:
    """Return a page of the project's runs (on `branch`, with this verdict as the pages show it, when
    given), newest first, and the total."""
    where = [Run.project_id == project.id] + ([Run.branch == branch] if branch is not None else [])
    if shown_verdict in ("passed", "failed"):
        # The verdict reads two JSON results: judged here on four columns, not in SQL per dialect.
        where.append(
            Run.status == RunStatus.COMPLETED
            if shown_verdict == "passed"
            else Run.status.in_((RunStatus.COMPLETED, RunStatus.FAILED))
        )
        rows = db.session.execute(
            select(Run.id, Run.status, Run.failed, Run.gate_result, Run.vitals_result)
            .where(*where)
            .order_by(Run.id.desc())
        ).all()
        ids = [
            row.id
            for row in rows
            if verdict_of(row.status, row.failed, row.gate_result, row.vitals_result) == shown_verdict
        ]
        shown = ids[offset : offset + limit]
        found = (
            {run.id: run for run in db.session.scalars(select(Run).where(Run.id.in_(shown)))} if shown else {}
        )
        return [found[i] for i in shown], len(ids)
    if shown_verdict == "aborted":
        where.append(Run.status == RunStatus.ABORTED)
    elif shown_verdict == "pending":
        where.append(Run.status.in_(ACTIVE_RUN_STATUSES))
    total = db.session.scalar(select(func.count(Run.id)).where(*where)) or 0
    page = db.session.scalars(select(Run).where(*where).order_by(Run.id.desc()).offset(offset).limit(limit))
    return list(page), total


def active_run(project_id: int, browser: str | None = None, device: str | None = None) -> Run | None:
    """Return the project's queued or running run (on this browser and device, when given), if any."""
    query = select(Run).where(Run.project_id == project_id, Run.status.in_(ACTIVE_RUN_STATUSES))
    if browser is not None:
        query = query.where(Run.browser == browser, Run.device == device)
    return db.session.scalar(query.order_by(Run.id).limit(1))


# -- starting ------------------------------------------------------------------------------------------


def approved_tests(project: Project) -> list[TestCase]:
    return list(
        db.session.scalars(
            select(TestCase)
            .where(TestCase.project_id == project.id, TestCase.review_status == "approved")
            .order_by(TestCase.id)
        )
    )


def check_settings(project: Project, options: RunOptions) -> None:
    """Refuse an environment or test-data set that is not the project's, and a baseUrl outside the
    project's origins (400 naming the field)."""
    for field, value, lookup in (
        ("environmentId", options.environment_id, environments.get_environment),
        ("testDataSetId", options.data_set_id, environments.get_data_set),
    ):
        if value is not None:
            try:
                lookup(project, value)
            except NotFound as exc:
                raise ValidationFailed.on(field, exc.message) from None
    if options.base_url is not None:
        check_base_url(project, options.base_url)


def site_url(project: Project, options: RunOptions) -> str:
    """Where the run's tests go: its baseUrl, else its environment's base URL, else the project's (as a worker
    resolves it, jobs.py); the URL a crawl starts from."""
    environment = (
        environments.get_environment(project, options.environment_id) if options.environment_id else None
    )
    return environments.site_url(project, environment, options.base_url)


def check_base_url(project: Project, base_url: str) -> None:
    """Refuse a run's baseUrl whose origin is not the project's, one of its environments', or allowed:
    the run's secrets are typed into that origin, so a trigger token must not move them elsewhere."""
    known = [project.base_url] + [env.base_url for env in environments.list_environments(project)]
    trusted = origins.TrustedOrigins(known, project.allowed_origins)
    if not trusted.allows(base_url):
        origin = origins.origin_of(base_url)
        raise ValidationFailed.on(
            "baseUrl",
            f"{origin} is not one of project {project.public_id}'s origins ({trusted.describe()}); "
            "add it (or a pattern such as https://pr-*.preview.example.com) to the project's allowedOrigins "
            "(Settings in the web UI, PATCH /api/v1/projects/:id, or flask projects allow-origin).",
        )


def start(
    project: Project,
    options: RunOptions,
    *,
    source: str,
    triggered_by: str,
    token: TriggerToken | None = None,
    in_transaction: Callable[[Run], None] | None = None,
) -> Run:
    """Create the run and a row per approved test in one transaction: the selected ones in risk order
    (queued, or skipped as over_budget), then the deselected ones (skipped). 400 without approved
    tests, 409 when the project has an active run. The trigger token's last use is recorded in the same
    transaction, so nothing can fail between the run existing and its rows being there to execute.
    `in_transaction(run)` runs in that transaction once the run has its id (a schedule claims its
    occurrence there); whatever it raises rolls the run back."""
    has_tests = db.session.scalar(select(TestCase.id).where(TestCase.project_id == project.id).limit(1))
    approved = approved_tests(project)
    if options.crawl is None:  # a crawling run's checks may be its pages alone
        if has_tests is None:
            raise ValidationFailed(f"Project {project.public_id} has no tests: crawl / add tests first.")
        if not approved:
            raise ValidationFailed(f"Project {project.public_id} has no approved tests: approve tests first.")
    chosen = selection.choose(project, approved, options.selection)
    check_settings(project, options)
    now = utcnow()
    order = planner.plan(
        history.histories(chosen),
        budget_minutes=options.budget_minutes,
        changed_pages=options.changed_pages,
        now=now,
        parallel=options.parallel_workers,
    )
    chosen_ids = {t.id for t in chosen}
    deselected = [{"testId": t.id, "plan": "deselected"} for t in approved if t.id not in chosen_ids]
    by_id = {t.id: t for t in approved}
    plan = [
        {
            **entry,
            "position": position,
            "testId": TestCase.format_id(entry["testId"]),
            "testName": by_id[entry["testId"]].name,
        }
        for position, entry in enumerate(order + deselected, start=1)
    ]
    base_url = site_url(project, options)  # every result of the run, skipped ones too, shows where it ran
    budget = options.budget_minutes
    options.vitals_samples = (
        options.vitals_samples or regression.settings(project.vitals_regression)["vitalsSamples"]
    )
    run = Run(
        project_id=project.id,
        status=RunStatus.QUEUED,
        trigger_source=source,
        triggered_by=triggered_by,
        options={**options.as_json(), "selection": options.selection.describe(chosen)},
        callback_url=options.callback_url,
        total=len(plan),
        plan=plan,
        parallel=options.parallel_workers,
        deadline=now + timedelta(minutes=budget) if budget else None,
        integrations={"github": options.github} if options.github else None,
        created_at=now,
        branch=options.branch,
        commit_sha=options.commit_sha,
        browser=options.browser,
        device=options.device,
        phase="crawling" if options.crawl else None,
    )
    try:
        with write():
            db.session.add(run)
            db.session.flush()
            if in_transaction is not None:
                in_transaction(run)
            skipped = 0
            for entry in plan:
                reason = {"over_budget": "over_budget", "deselected": "deselected"}.get(entry["plan"])
                skipped += reason is not None
                db.session.add(
                    Result(
                        run_id=run.id,
                        test_id=TestCase.key_of(entry["testId"]),
                        test_name=entry["testName"],
                        position=entry["position"],
                        status=ResultStatus.SKIPPED if reason else ResultStatus.QUEUED,
                        skip_reason=reason,
                        attempts=[],
                        base_url=base_url,
                        quarantined=quarantine.is_quarantined(by_id.get(TestCase.key_of(entry["testId"]))),
                    )
                )
            run.skipped = skipped
            if options.crawl is not None:  # claimed before any test: the tests wait for it (claims.py)
                db.session.add(
                    Crawl(
                        project_id=project.id,
                        run_id=run.id,
                        status=CrawlStatus.QUEUED,
                        triggered_by=triggered_by,
                        base_url=base_url,
                        options=options.crawl.as_json(),
                        progress={},
                        created_at=now,
                    )
                )
            if token is not None:
                db.session.execute(
                    update(TriggerToken).where(TriggerToken.id == token.id).values(last_used_at=now)
                )
            db.session.flush()
            if skipped == len(plan) and options.crawl is None:
                end(run.id)  # nothing to execute: the run ends as it starts
            else:
                notices.work_ready()  # every process's idle workers look once this commits
    except IntegrityError:
        # The partial unique index refused a second active run: report the one that holds the lock.
        active = active_run(project.id, options.browser, options.device)
        on = (
            ""
            if (options.browser, options.device) == ("chromium", "desktop")
            else f" on {options.browser} ({options.device})"
        )
        raise Conflict(
            f"Project {project.public_id} already has an active run{on}.",
            runId=active.public_id if active else None,
        ) from None
    log.info(
        "%s started on %s by %s (%s): %d test(s) planned, %d to run, %s on %s (%s)",
        run.public_id,
        project.public_id,
        triggered_by,
        source,
        len(plan),
        len(plan) - run.skipped,
        run.browser,
        run.device,
        f"branch {run.branch}" if run.branch else "no branch",
    )
    return run


# -- stopping a run ----------------------------------------------------------------------------------------


def stop_in_transaction(run_id: int, reason: str, error: str | None = None) -> bool:
    """Flag an active run as stopping and skip its queued rows; end it when nothing is running."""
    flagged = db.session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.status.in_(ACTIVE_RUN_STATUSES),
            Run.stop_reason.is_(None),
            Run.notify_state.is_(None),
        )  # an ending run has ended: too late to stop it
        .values(stop_reason=reason, error=error)
    ).rowcount
    if not flagged:
        return False
    skipped = db.session.execute(
        update(Result)
        .where(Result.run_id == run_id, Result.status == ResultStatus.QUEUED)
        .values(status=ResultStatus.SKIPPED, skip_reason=STOP_SKIP_REASON[reason], finished_at=utcnow())
    ).rowcount
    if skipped:
        db.session.execute(update(Run).where(Run.id == run_id).values(skipped=Run.skipped + skipped))
    # A crawl not yet claimed never starts; a running one is stopped by its worker (crawls.to_stop).
    db.session.execute(
        update(Crawl)
        .where(Crawl.run_id == run_id, Crawl.status == CrawlStatus.QUEUED)
        .values(status=CrawlStatus.ABORTED, finished_at=utcnow())
    )
    end_if_done(run_id)
    return True


def abort(run: Run) -> None:
    """Abort an active run: its queued tests are skipped now, its running ones stopped by their workers
    within seconds (or recovered when their worker is gone); the run then ends as aborted."""
    with write():
        if not stop_in_transaction(run.id, "aborted"):
            raise Conflict(f"Run {run.public_id} has already ended ({run.status}).")


def fail(run_id: int, error: str) -> None:
    """The run cannot go on (no browser, a secret that cannot be read): stop it; it ends as failed."""
    with write():
        stop_in_transaction(run_id, "failed", error)


# -- ending a run ------------------------------------------------------------------------------------------
