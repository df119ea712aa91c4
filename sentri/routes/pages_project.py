"""Project tabs: Runs (history, charts, run now), CI (trigger tokens, CI snippets), Gates (quality gates,
Web Vitals budgets and regression gate, quarantine policy) and Settings (name, base URL, delete). Views
on the `pages` blueprint."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, session, url_for

from .. import projects, runs, tokens, ui
from ..errors import Conflict, SentriError, ValidationFailed
from ..policies import gates, regression, vitals, vitals_baseline
from ..policies import thresholds as limits
from ..policies.selection import Selection
from ..queue import lifecycle
from ..queue.lifecycle import SHOWN_VERDICTS
from ..reports import stats
from ..states import RunStatus
from ..ui import people
from ..users import require_admin
from ..validation import parse
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
            [ui.pass_rate(r.passed, r.failed) for r in history], labels, y_max=100,
            budget=gates_config.get("minPassRate"), label="Pass rate (%)", axes=True, apart=apart,
        )
    }
    p75 = stats.run_vitals_p75([r.id for r in history])
    for metric in ui.METRICS:
        values = [p75[r.id][metric] for r in history]
        if any(v is not None for v in values) or budgets.get(metric) is not None:
            unit = ui.METRIC_UNITS[metric]
            charts[metric] = ui.line_chart(
                values, labels, budget=budgets.get(metric), axes=True, decimals=3 if metric == "cls" else 0,
                label=f"{ui.METRIC_LABELS[metric]} p75" + (f" ({unit})" if unit else ""), apart=apart,
            )
    return charts


def _runs_tab(project, *, error: str | None = None, active_run: str | None = None, status: int = 200):
    number, offset = page_of()
    known = stats.branches(project.id)
    branch = request.args.get("branch") or None
    branch = branch if branch in known else None  # an unknown branch shows every run, and says so by the form
    shown = request.args.get("verdict") or None
    shown = shown if shown in SHOWN_VERDICTS else None
    items, total = lifecycle.list_for(project, offset=offset, limit=ui.PER_PAGE, branch=branch, shown_verdict=shown)
    return (
        render_template(
            "pages/project_runs.html", project=project, runs=items, page=ui.Page(number, ui.PER_PAGE, total),
            charts=_charts(project, branch), branches=known, branch=branch, chart_runs=CHART_RUNS, error=error,
            active_run=active_run, tab="runs", verdicts=SHOWN_VERDICTS, verdict_filter=shown,
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


def _number(raw: str, field: str, whole: bool = False) -> int | float | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if re.fullmatch(r"-?\d+", raw):
            return int(raw)
        if whole:
            raise ValueError
        return float(raw)
    except ValueError:
        raise ValidationFailed.on(field, f"must be {'a whole number' if whole else 'a number'}") from None


def _ci_snippets(project) -> dict[str, str]:
    context = {"base": public_base(), "project_id": project.public_id}
    return {
        "github": render_template("partials/ci_github.yml.j2", **context),
        "gitlab": render_template("partials/ci_gitlab.yml.j2", **context),
    }


def ci_tab(project, user, *, errors: dict | None = None, values: dict | None = None,
           plaintext: str | None = None, status: int = 200):
    """The CI tab: trigger tokens (after a refused one, its `errors` and `values`) and the CI snippets."""
    response = render_template(
        "pages/ci.html", project=project, tokens=tokens.list_for(project), tab="automation",
        snippets=_ci_snippets(project), failed="tokens" if errors else None, errors=errors or {},
        values=values or {}, plaintext=plaintext)
    return response, status, {"Cache-Control": "no-store"}


def gates_tab(project, user, *, failed: str | None = None, errors: dict | None = None,
              values: dict | None = None, status: int = 200):
    """The Gates tab; after a refused save, `failed` names the section whose form it was: its banner lists
    `errors`, its fields show `values` as typed (the other sections show what is saved)."""
    response = render_template(
        "pages/gates.html", project=project, tab="gates", failed=failed, errors=errors or {}, values=values or {},
        gates=project.quality_gates or {}, budgets=project.vitals_budgets or {},
        gate_fields=gates.GATE_FIELDS, budget_fields=vitals.BUDGET_FIELDS,
        policy=project.quarantine_policy or {}, regression=_flat(regression.public(project.vitals_regression) or {}),
        vitals_baselines=[vitals_baseline.describe(project, *combo) for combo in vitals_baseline.combos(project)],
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/projects/<project_id>/automation")
@login_required
def project_automation(project_id, user):
    project = projects.get(project_id)
    # Keyed to this user and project: another project's page never shows it (and burns it).
    plaintext = ui.take_secret(f"{user.public_id}:{project.public_id}", session.pop("reveal_token", None))
    return ci_tab(project, user, plaintext=plaintext)


@bp.get("/projects/<project_id>/gates")
@login_required
def project_gates(project_id, user):
    return gates_tab(projects.get(project_id), user)


@bp.post("/projects/<project_id>/tokens")
@login_required
def token_create(project_id, user):
    project = projects.get(project_id)
    label = request.form.get("label", "")
    try:
        days = _number(request.form.get("expiresInDays", ""), "expiresInDays", whole=True)
        body = parse(tokens.NewToken, {"label": label, "expiresInDays": days})
        token, plaintext = tokens.create(project, label=body.label, expires_in_days=body.expires_in_days, actor=user)
    except ValidationFailed as exc:
        values = {"label": label, "expiresInDays": request.form.get("expiresInDays", "")}
        return ci_tab(project, user, errors=field_errors(exc), values=values, status=400)
    # Shown once, on the page the redirect lands on; a reload finds nothing left to show.
    session["reveal_token"] = ui.stash_secret(f"{user.public_id}:{project.public_id}", plaintext)
    tell("tokens", f"Token {token.public_id} created. Copy it now: it is not shown again.")
    return redirect(url_for("pages.project_automation", project_id=project.public_id) + "#tokens")


@bp.post("/projects/<project_id>/tokens/<token_id>/revoke")
@login_required
def token_revoke(project_id, token_id, user):
    project = projects.get(project_id)
    token = tokens.get_in_project(project, token_id)
    tokens.revoke(token, actor=user)
    tell("tokens", f"Token {token_id} revoked.")
    return redirect(url_for("pages.project_automation", project_id=project.public_id) + "#tokens")


@bp.post("/projects/<project_id>/<any('quality-gates', 'web-vitals-budgets', 'quarantine-policy'):kind>")
@login_required
def project_limits(project_id, kind, user):
    project = projects.get(project_id)
    require_admin(user)
    spec = limits.KINDS[kind]
    values = {name: request.form.get(name, "") for name in spec.fields}
    try:
        patch = _numbers({name: (values[name], name in spec.whole_numbers) for name in spec.fields}, spec.clean)
        limits.change(project, kind, patch, actor=user)
    except ValidationFailed as exc:
        return gates_tab(project, user, failed=kind, errors=field_errors(exc), values=values, status=400)
    tell(kind, spec.saved)
    return redirect(url_for("pages.project_gates", project_id=project.public_id) + f"#{kind}")


def _numbers(raw: dict[str, tuple[str, bool]], clean) -> dict:
    """Read a form's number fields (name -> (text, whole)); refuse with every field's problem at once:
    those that are not numbers, and what the domain's `clean` says of the others."""
    patch, problems = {}, {}
    for name, (text, whole) in raw.items():
        try:
            patch[name] = _number(text, name, whole)
        except ValidationFailed as exc:
            problems.update(exc.fields)
    if problems:
        try:
            clean(patch)
        except ValidationFailed as exc:
            problems = {**exc.fields, **problems}
        raise ValidationFailed.on_each(list(problems.items()))
    return patch


# The regression gate's form: a rule per metric as two inputs ("lcp.maxIncreasePct"), off when both are empty.
_RULE_MINIMUM = {"lcp": "minIncreaseMs", "ttfb": "minIncreaseMs", "cls": "minIncrease"}
_REGRESSION_INPUTS = (*(f"{metric}.{part}" for metric, minimum in _RULE_MINIMUM.items()
                        for part in ("maxIncreasePct", minimum)),
                      "alpha", "baselineRuns", "minBaselineRuns", "excludeRegressedRuns", "vitalsSamples", "mode",
                      "baselineBranch")


def _flat(config: dict) -> dict:
    flat = {key: value for key, value in config.items() if not isinstance(value, dict)}
    for metric, rule in config.items():
        if isinstance(rule, dict):
            flat.update({f"{metric}.{part}": value for part, value in rule.items()})
    return flat


def _regression_patch(values: dict) -> dict:
    numbers = {f"{metric}.{part}": (values[f"{metric}.{part}"], False)
               for metric, minimum in _RULE_MINIMUM.items() for part in ("maxIncreasePct", minimum)}
    numbers.update({"alpha": (values["alpha"], False), "baselineRuns": (values["baselineRuns"], True),
                    "minBaselineRuns": (values["minBaselineRuns"], True),
                    "vitalsSamples": (values["vitalsSamples"], True)})
    flat = _numbers(numbers, lambda _patch: None)
    patch: dict = {}
    for metric, minimum in _RULE_MINIMUM.items():
        given = {part: flat[f"{metric}.{part}"] for part in ("maxIncreasePct", minimum)
                 if flat[f"{metric}.{part}"] is not None}
        patch[metric] = given or None
    patch.update({name: flat[name] for name in ("alpha", "baselineRuns", "minBaselineRuns", "vitalsSamples")})
    patch["excludeRegressedRuns"] = {"true": True, "false": False}.get(values["excludeRegressedRuns"].strip())
    patch["mode"] = values["mode"].strip() or None
    patch["baselineBranch"] = values["baselineBranch"].strip() or None
    return patch


@bp.post("/projects/<project_id>/vitals-regression")
@login_required
def project_regression(project_id, user):
    project = projects.get(project_id)
    require_admin(user)
    values = {name: request.form.get(name, "") for name in _REGRESSION_INPUTS}
    try:
        limits.change(project, "vitals-regression", _regression_patch(values), actor=user)
    except ValidationFailed as exc:
        return gates_tab(project, user, failed="vitals-regression", errors=field_errors(exc), values=values,
                         status=400)
    tell("vitals-regression", limits.KINDS["vitals-regression"].saved)
    return redirect(url_for("pages.project_gates", project_id=project.public_id) + "#vitals-regression")


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
    values = {"name": request.form.get("name", ""), "baseUrl": request.form.get("baseUrl", ""),
              "variables": request.form.get("variables", ""), "allowedOrigins": request.form.get("allowedOrigins", "")}
    changes = {"name": values["name"], "baseUrl": values["baseUrl"]}
    problems: dict[str, str] = {}
    if "variables" in request.form:  # NAME=value lines; none left clears them
        changes["variables"], bad = read_lines(values["variables"])
        problems.update({"variables": "; ".join(bad)} if bad else {})
    if user.is_admin and "allowedOrigins" in request.form:  # one origin per line
        changes["allowedOrigins"] = [line.strip() for line in values["allowedOrigins"].splitlines() if line.strip()]
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
get_goes_back("/projects/<project_id>/tokens", "pages.project_automation", "tokens")
get_goes_back("/projects/<project_id>/tokens/<token_id>/revoke", "pages.project_automation", "tokens")
get_goes_back("/projects/<project_id>/<any('quality-gates', 'web-vitals-budgets', 'quarantine-policy'):kind>",
              "pages.project_gates", "{kind}")
get_goes_back("/projects/<project_id>/vitals-regression", "pages.project_gates", "vitals-regression")
get_goes_back("/projects/<project_id>/delete", "pages.project_settings", "delete")
