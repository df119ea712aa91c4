"""The Automation tab's Web Vitals baseline forms: pin a run as the regression gate's baseline, unpin it
(admins; the API's PUT and DELETE /vitals-regression/baseline). A refusal comes back as a message on the tab."""

from __future__ import annotations

from flask import redirect, request, url_for

from .. import projects
from ..errors import SentriError
from ..policies import vitals_baseline
from ..users import require_admin
from .pages_common import bp, get_goes_back, login_required, tell
from .pages_project import gates_tab


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
        return gates_tab(project, user, failed="vitals-baseline", errors={"runId": exc.message},
                              values={"runId": request.form.get("runId", "")}, status=exc.status)
    tell("vitals-baseline", f"{run_id} pinned as the Web Vitals baseline on {shown['browser']} ({shown['device']}).")
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
    tell("vitals-baseline", f"The Web Vitals baseline on {browser} ({device}) is no longer pinned: it rolls again.")
    return _back(project)


get_goes_back("/projects/<project_id>/vitals-regression/baseline", "pages.project_gates", "vitals-baseline")
get_goes_back("/projects/<project_id>/vitals-regression/baseline/unpin", "pages.project_gates", "vitals-baseline")
