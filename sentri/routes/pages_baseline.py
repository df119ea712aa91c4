"""The Web Vitals baseline forms: pin a run as the regression gate's baseline, unpin it (admins; the API's
PUT and DELETE /vitals-regression/baseline), on the Gates tab by run id and on a run's own page. A refusal
comes back as a message beside the form."""

from __future__ import annotations

from flask import redirect, request, url_for

from .. import projects
from ..errors import SentriError
from ..policies import vitals_baseline
from ..queue import lifecycle
from ..users import require_admin
from .pages_automation import gates_tab
from .pages_common import bp, get_goes_back, login_required, tell


def _back(project):
    return redirect(url_for("pages.project_gates", project_id=project.public_id) + "#vitals-baseline")


@bp.post("/projects/<project_id>/vitals-regression/baseline")
@login_required
def baseline_pin(project_id, user):
    project = projects.get(project_id)
    require_admin(user)  # a 403 page, not a message
    run_id = request.form.get("runId", "").strip().upper()
    try:
        shown = vitals_baseline.pin(project, {"runId": run_id}, user)
    except SentriError as exc:  # shown beside the field, with what was typed
        return gates_tab(
            project,
            user,
            failed="vitals-baseline",
            errors={"runId": exc.message},
            values={"runId": request.form.get("runId", "")},
            status=exc.status,
        )
    tell(
        "vitals-baseline",
        f"{run_id} pinned as the Web Vitals baseline on {shown['browser']} ({shown['device']}).",
    )
    return _back(project)


@bp.post("/projects/<project_id>/vitals-regression/baseline/unpin")
@login_required
def baseline_unpin(project_id, user):
    project = projects.get(project_id)
    require_admin(user)
    try:
        browser, device = vitals_baseline.where(request.form)
        vitals_baseline.unpin(project, browser, device, user)
    except SentriError as exc:
        tell("vitals-baseline", exc.message, "error")
        return _back(project)
    tell(
        "vitals-baseline",
        f"The Web Vitals baseline on {browser} ({device}) is no longer pinned: it rolls again.",
    )
    return _back(project)


def _back_to_run(run):
    return redirect(url_for("pages.run_page", run_id=run.public_id) + "#vitals-baseline")


@bp.post("/runs/<run_id>/vitals-baseline")
@login_required
def run_baseline_pin(run_id, user):
    """Pin this run as the baseline of its browser and device, from its own page."""
    run = lifecycle.get(run_id)
    require_admin(user)
    try:
        shown = vitals_baseline.pin(run.project, {"runId": run.public_id}, user)
    except SentriError as exc:
        tell("vitals-baseline", exc.message, "error")
        return _back_to_run(run)
    tell(
        "vitals-baseline",
        f"{run.public_id} is now the pinned Web Vitals baseline on {shown['browser']} "
        f"({shown['device']}): later runs there are judged against it and the runs after it.",
    )
    return _back_to_run(run)


@bp.post("/runs/<run_id>/vitals-baseline/unpin")
@login_required
def run_baseline_unpin(run_id, user):
    """Unpin this run, when it is still the pinned baseline (never another run pinned since)."""
    run = lifecycle.get(run_id)
    require_admin(user)
    if not vitals_baseline.of_run(run)["pinned"]:
        tell(
            "vitals-baseline",
            f"{run.public_id} is not the pinned baseline (any more): nothing was unpinned.",
            "error",
        )
        return _back_to_run(run)
    vitals_baseline.unpin(run.project, run.browser, run.device, user)
    tell(
        "vitals-baseline",
        f"{run.public_id} is no longer the pinned Web Vitals baseline on {run.browser} "
        f"({run.device}): the baseline rolls again.",
    )
    return _back_to_run(run)


get_goes_back("/projects/<project_id>/vitals-regression/baseline", "pages.project_gates", "vitals-baseline")
get_goes_back(
    "/projects/<project_id>/vitals-regression/baseline/unpin", "pages.project_gates", "vitals-baseline"
)
get_goes_back("/runs/<run_id>/vitals-baseline", "pages.run_page", "vitals-baseline", keep=("run_id",))
get_goes_back("/runs/<run_id>/vitals-baseline/unpin", "pages.run_page", "vitals-baseline", keep=("run_id",))
