"""A run's page, built for triage: the verdict and its reasons first, then the failures (each with its
expected and received values, step, screenshot, trace and diff), one Web Vitals table, what the end of
the run changed; the live page swaps its parts in as tests finish. Views on the `pages` blueprint."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import ui
from ..errors import Conflict
from ..extensions import db
from ..models import Result, TestCase
from ..policies import vitals_baseline
from ..queue import crawls, lifecycle
from ..reports import serialize
from ..review import views
from ..states import ResultStatus
from ..ui import people, templates_used, triage, verdict, vitals_table
from ..ui.failures import explain
from .pages_common import bp, get_goes_back, login_required

RESULTS_PER_PAGE = 100


def _row(run, result: Result, test: TestCase | None, used: tuple[dict, set]) -> dict:
    def artifact(endpoint: str, present: str | None) -> str | None:
        return url_for(endpoint, run_id=run.public_id, position=result.position) if present else None

    kind = triage.kind_of(result)
    retried = None
    if kind == "flaky":  # what went wrong before the retry that passed
        first = next((a for a in result.attempts or [] if a.get("status") == "failed"), None)
        retried = explain(first.get("error"), first.get("failingStep")) if first else None
    return {
        "result": result,
        "test": test,
        "kind": kind,
        "retried": retried,
        "failure": triage.failure(result, test) if result.status == ResultStatus.FAILED else None,
        "screenshot": artifact("api_runs.screenshot", result.screenshot),
        "trace": artifact("api_runs.trace", result.trace),
        "trace_name": f"{run.public_id}-test{result.position}-trace.zip",
        # Screenshot steps worth a look (not those that matched), and healed targets.
        "visual": [
            s
            for s in views.snapshots(
                result.snapshots, lambda sha: url_for("api_review.run_image", run_id=run.public_id, sha=sha)
            )
            if s["status"] != "matched"
        ],
        "healed": [
            {**heal, "fromUsed": templates_used.filled(heal["from"], *used)}
            for heal in views.healed(result.healed)
        ],
    }


def _run_context(run) -> dict:
    """Everything the run's page shows: the headline, one page of results (failures first, or one kind),
    the Web Vitals table and what the run's end changed."""
    kinds = triage.counts(run)
    show = triage.shown_kind(request.args.get("show"))
    page = ui.Page(
        ui.page_number(request.args.get("page")),
        RESULTS_PER_PAGE,
        kinds[show] if show else sum(kinds.values()),
    )
    shown = triage.results(run, show, page.offset, RESULTS_PER_PAGE)
    ids = [r.test_id for r in shown if r.test_id]
    tests = {t.id: t for t in db.session.scalars(select(TestCase).where(TestCase.id.in_(ids)))} if ids else {}
    failed = list(
        db.session.scalars(
            select(Result.test_name)
            .where(Result.run_id == run.id, triage.KINDS["failed"])
            .order_by(Result.position)
        )
    )
    used = templates_used.run_values(run.project, run) if any(r.healed for r in shown) else ({}, set())
    skipped = dict(
        db.session.execute(
            select(Result.skip_reason, func.count(Result.id))
            .where(Result.run_id == run.id, Result.status == ResultStatus.SKIPPED)
            .group_by(Result.skip_reason)
        ).all()
    )
    return {
        "run": run,
        "project": run.project,
        "page": page,
        "show": show,
        "kinds": kinds,
        "rows": [
            _row(run, result, tests.get(result.test_id) if result.test_id is not None else None, used)
            for result in shown
        ],
        "headline": verdict.headline(run, kinds, failed),
        "verdict": serialize.verdict(run),
        "done": run.total - kinds["waiting"],
        "ran": sum(kinds[k] for k in ("failed", "flaky", "quarantined", "passed")),
        "not_run": ui.not_run(skipped),
        "vitals": vitals_table.table(run, run.project.vitals_budgets),
        "changes": triage.changes(run),
        "crawl": crawls.for_run(run),
        "started_by": people.trigger_names([run])[run.id],
        "kind_words": triage.KIND_WORDS,
        "baseline": vitals_baseline.of_run(run),
    }


@bp.get("/runs/<run_id>")
@login_required
def run_page(run_id, user):
    return render_template("pages/run.html", **_run_context(lifecycle.get(run_id)))


@bp.get("/runs/<run_id>/report")
@login_required
def run_report(run_id, user):
    """The parts of the run's page that change while it runs, alone: the live page swaps them in."""
    response = current_app.make_response(
        render_template("partials/run_live.html", **_run_context(lifecycle.get(run_id)))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/runs/<run_id>/abort")
@login_required
def run_abort(run_id, user):
    run = lifecycle.get(run_id)
    try:
        lifecycle.abort(run)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("pages.run_page", run_id=run.public_id))
    db.session.commit()
    flash(f"Run {run.public_id} aborted: its running tests stop within seconds.", "success")
    return redirect(url_for("pages.run_page", run_id=run.public_id))


get_goes_back("/runs/<run_id>/abort", "pages.run_page", keep=("run_id",))
