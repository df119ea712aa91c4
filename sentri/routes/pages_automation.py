"""The CI tab (trigger tokens, CI snippets) and the Gates tab (quality gates, Web Vitals budgets and the
regression gate, quarantine policy) of a project: views on the `pages` blueprint, forms that re-render in place."""

from __future__ import annotations

import re

from flask import redirect, render_template, request, session, url_for

from .. import projects, tokens, ui
from ..errors import ValidationFailed
from ..policies import gates, regression, vitals, vitals_baseline
from ..policies import thresholds as limits
from ..users import require_admin
from ..validation import parse
from .helpers import public_base
from .pages_common import bp, field_errors, get_goes_back, login_required, tell

_RULE_MINIMUM = {"lcp": "minIncreaseMs", "ttfb": "minIncreaseMs", "cls": "minIncrease"}
_REGRESSION_INPUTS = (
    *(
        f"{metric}.{part}"
        for metric, minimum in _RULE_MINIMUM.items()
        for part in ("maxIncreasePct", minimum)
    ),
    "alpha",
    "baselineRuns",
    "minBaselineRuns",
    "excludeRegressedRuns",
    "vitalsSamples",
    "mode",
    "baselineBranch",
)


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


def ci_tab(
    project,
    user,
    *,
    errors: dict | None = None,
    values: dict | None = None,
    plaintext: str | None = None,
    status: int = 200,
):
    """The CI tab: trigger tokens (after a refused one, its `errors` and `values`) and the CI snippets."""
    response = render_template(
        "pages/ci.html",
        project=project,
        tokens=tokens.list_for(project),
        tab="automation",
        snippets=_ci_snippets(project),
        failed="tokens" if errors else None,
        errors=errors or {},
        values=values or {},
        plaintext=plaintext,
    )
    return response, status, {"Cache-Control": "no-store"}


def gates_tab(
    project,
    user,
    *,
    failed: str | None = None,
    errors: dict | None = None,
    values: dict | None = None,
    status: int = 200,
):
    """The Gates tab; after a refused save, `failed` names the section whose form it was: its banner lists
    `errors`, its fields show `values` as typed (the other sections show what is saved)."""
    response = render_template(
        "pages/gates.html",
        project=project,
        tab="gates",
        failed=failed,
        errors=errors or {},
        values=values or {},
        gates=project.quality_gates or {},
        budgets=project.vitals_budgets or {},
        gate_fields=gates.GATE_FIELDS,
        budget_fields=vitals.BUDGET_FIELDS,
        policy=project.quarantine_policy or {},
        regression=_flat(regression.public(project.vitals_regression) or {}),
        vitals_baselines=[
            vitals_baseline.describe(project, *combo) for combo in vitals_baseline.combos(project)
        ],
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
        token, plaintext = tokens.create(
            project, label=body.label, expires_in_days=body.expires_in_days, actor=user
        )
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
        patch = _numbers(
            {name: (values[name], name in spec.whole_numbers) for name in spec.fields}, spec.clean
        )
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


def _flat(config: dict) -> dict:
    flat = {key: value for key, value in config.items() if not isinstance(value, dict)}
    for metric, rule in config.items():
        if isinstance(rule, dict):
            flat.update({f"{metric}.{part}": value for part, value in rule.items()})
    return flat


def _regression_patch(values: dict) -> dict:
    numbers = {
        f"{metric}.{part}": (values[f"{metric}.{part}"], False)
        for metric, minimum in _RULE_MINIMUM.items()
        for part in ("maxIncreasePct", minimum)
    }
    numbers.update(
        {
            "alpha": (values["alpha"], False),
            "baselineRuns": (values["baselineRuns"], True),
            "minBaselineRuns": (values["minBaselineRuns"], True),
            "vitalsSamples": (values["vitalsSamples"], True),
        }
    )
    flat = _numbers(numbers, lambda _patch: None)
    patch: dict = {}
    for metric, minimum in _RULE_MINIMUM.items():
        given = {
            part: flat[f"{metric}.{part}"]
            for part in ("maxIncreasePct", minimum)
            if flat[f"{metric}.{part}"] is not None
        }
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
        return gates_tab(
            project, user, failed="vitals-regression", errors=field_errors(exc), values=values, status=400
        )
    tell("vitals-regression", limits.KINDS["vitals-regression"].saved)
    return redirect(url_for("pages.project_gates", project_id=project.public_id) + "#vitals-regression")


get_goes_back("/projects/<project_id>/tokens", "pages.project_automation", "tokens")
get_goes_back("/projects/<project_id>/tokens/<token_id>/revoke", "pages.project_automation", "tokens")
get_goes_back(
    "/projects/<project_id>/<any('quality-gates', 'web-vitals-budgets', 'quarantine-policy'):kind>",
    "pages.project_gates",
    "{kind}",
)
get_goes_back("/projects/<project_id>/vitals-regression", "pages.project_gates", "vitals-regression")
