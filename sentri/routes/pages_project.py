"""Project tabs: Runs (history, charts, run now) and Settings (name, base URL, delete); CI and Gates are
pages_automation.py. Views on the `pages` blueprint."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import projects, runs, ui
from ..errors import Conflict, SentriError, ValidationFailed
from ..policies.selection import Selection
from ..queue import lifecycle
from ..queue.lifecycle import SHOWN_VERDICTS
from ..reports import stats
from ..states import RunStatus
from ..ui import people
from ..users import require_admin
from .helpers import public_base
from .pages_common import bp, field_errors, get_goes_back, login_required, page_of, tell
from .pages_settings import checked, read_lines, settings_page

CHART_RUNS = 30


@bp.get("/projects/<project_id>")
@login_required
def project_home(project_id, user):
    return redirect(url_for("pages.project_tests", project_id=projects.get(project_id).public_id))


# -- runs tab ---------------------------------------------------------------------------------------


def _charts(project, branch: str | None) -> dict:
    """The trend charts over the last CHART_RUNS completed runs (on `branch`), their lines joining those
    alone: an aborted run's numbers say how far it got, not how the site does. Aborted runs among and after
    them are marked apart, in their own colour and shape, and counted in no figure; failed runs are left out."""
    history = stats.chart_runs(project.id, CHART_RUNS, branch)
    labels = [r.public_id for r in history]
    apart = [r.status == RunStatus.ABORTED for r in history]
    gates_config = project.quality_gates or {}
    budgets = project.vitals_budgets or {}
    charts = {
        "pass": ui.line_chart(
            [ui.pass_rate(r.passed, r.failed) for r in history],
            labels,
            y_max=100,
            budget=gates_config.get("minPassRate"),
            label="Pass rate (%)",
            axes=True,
            apart=apart,
        )
    }
    p75 = stats.run_vitals_p75([r.id for r in history])
    for metric in ui.METRICS:
        values = [p75[r.id][metric] for r in history]
        if any(v is not None for v in values) or budgets.get(metric) is not None:
            unit = ui.METRIC_UNITS[metric]
            charts[metric] = ui.line_chart(
                values,
                labels,
                budget=budgets.get(metric),
                axes=True,
                decimals=3 if metric == "cls" else 0,
                label=f"{ui.METRIC_LABELS[metric]} p75" + (f" ({unit})" if unit else ""),
                apart=apart,
            )
    return charts


def _runs_tab(project, *, error: str | None = None, active_run: str | None = None, status: int = 200):
    number, offset = page_of()
    known = stats.branches(project.id)
    branch = request.args.get("branch") or None
    branch = branch if branch in known else None  # an unknown branch shows every run, and says so by the form
    shown = request.args.get("verdict") or None
    shown = shown if shown in SHOWN_VERDICTS else None
    items, total = lifecycle.list_for(
        project, offset=offset, limit=ui.PER_PAGE, branch=branch, shown_verdict=shown
    )
    return (
        render_template(
            "pages/project_runs.html",
            project=project,
            runs=items,
            page=ui.Page(number, ui.PER_PAGE, total),
            charts=_charts(project, branch),
            branches=known,
            branch=branch,
            chart_runs=CHART_RUNS,
            error=error,
            active_run=active_run,
            tab="runs",
            verdicts=SHOWN_VERDICTS,
            verdict_filter=shown,
            started_by=people.trigger_names(items),
        ),
        status,
    )


@bp.get("/projects/<project_id>/runs")
@login_required
def project_runs(project_id, user):
    return _runs_tab(projects.get(project_id))


@bp.post("/projects/<project_id>/runs")
@login_required
def project_run_now(project_id, user):
    project = projects.get(project_id)
    try:
        run = start_run(project, user)
    except Conflict as exc:
        return _runs_tab(project, error=exc.message, active_run=exc.extra.get("runId"), status=409)
    except ValidationFailed as exc:
        return _runs_tab(project, error=exc.message, status=400)
    return redirect(url_for("pages.run_page", run_id=run.public_id))


# -- automation tab ---------------------------------------------------------------------------------


# The regression gate's form: a rule per metric as two inputs ("lcp.maxIncreasePct"), off when both are empty.


# -- settings tab -----------------------------------------------------------------------------------


def _settings_tab(project, *, errors=None, values=None, status=200):
    return settings_page(project, errors=errors, values=values, status=status)


@bp.get("/projects/<project_id>/settings")
@login_required
def project_settings(project_id, user):
    return _settings_tab(projects.get(project_id))


@bp.post("/projects/<project_id>/settings")
@login_required
def project_settings_save(project_id, user):
    project = projects.get(project_id)
    values = {
        "name": request.form.get("name", ""),
        "baseUrl": request.form.get("baseUrl", ""),
        "variables": request.form.get("variables", ""),
        "allowedOrigins": request.form.get("allowedOrigins", ""),
    }
    changes = {"name": values["name"], "baseUrl": values["baseUrl"]}
    problems: dict[str, str] = {}
    if "variables" in request.form:  # NAME=value lines; none left clears them
        changes["variables"], bad = read_lines(values["variables"])
        problems.update({"variables": "; ".join(bad)} if bad else {})
    if user.is_admin and "allowedOrigins" in request.form:  # one origin per line
        changes["allowedOrigins"] = [
            line.strip() for line in values["allowedOrigins"].splitlines() if line.strip()
        ]
    try:
        projects.update(project, checked(projects.ProjectChanges, changes, problems), actor=user)
    except SentriError as exc:
        return _settings_tab(project, errors=field_errors(exc), values=values, status=exc.status)
    tell("project", "Project saved.")
    return redirect(url_for("pages.project_settings", project_id=project.public_id) + "#project")


@bp.post("/projects/<project_id>/delete")
@login_required
def project_delete(project_id, user):
    project = projects.get(project_id)
    require_admin(user)
    if request.form.get("confirm", "") != project.name:
        errors = {"confirm": "Type the project's name exactly to delete it."}
        return _settings_tab(project, errors=errors, status=400)
    name, public_id = project.name, project.public_id
    projects.delete_project(project, actor=user)
    flash(f"Project {public_id} ({name}) deleted.", "success")
    return redirect(url_for("pages.project_list"))


def start_run(project, user, *, case_ids: list[int] | None = None):
    """Start a run of the project as this user (the one-active-run rule applies); return it. `case_ids`
    runs those tests alone, as a trigger's caseIds does (each must be approved)."""
    options = runs.RunOptions(selection=Selection(case_ids=case_ids))
    options.extra["publicUrl"] = public_base()
    return runs.launch(project, options, source="user", triggered_by=user.public_id)


# The forms' own addresses answer a GET with their page, at their section (never a 405).
get_goes_back("/projects/<project_id>/delete", "pages.project_settings", "delete")
