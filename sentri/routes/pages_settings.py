"""Settings tab, beyond the project form (pages_project.py): the project's environments (base URL, variables
and write-only secrets), test-data sets, suites and the heal switch. Views on the `pages` blueprint that
check the API's bodies and call the same domain functions, so that a page may do what the API lets the
same user do: any user creates and edits; an admin deletes, removes a secret and turns healing on or off.

A secret's value goes one way: from the form into the vault. The page shows its name only (masked), and a
refused save keeps what was typed except the secret values."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from .. import environments, projects, suites, testcases
from ..errors import ValidationFailed
from ..users import require_admin
from ..validation import parse
from .pages_common import bp, field_errors, get_goes_back, login_required, tell

MASK = "••••"


def settings_page(
    project,
    *,
    errors: dict | None = None,
    values: dict | None = None,
    failed: str | None = None,
    section_errors: dict | None = None,
    section_values: dict | None = None,
    status: int = 200,
):
    """The Settings tab. `errors`/`values` are the project form's (pages_project.py); after a refused save of
    one of this module's forms, `failed` names it (a section's create form, or an item's public id) and
    `section_errors`/`section_values` are its problems and what was typed (never a secret value)."""
    current = {
        "name": project.name,
        "baseUrl": project.base_url,
        "variables": as_lines(project.variables or {}),
        "allowedOrigins": "\n".join(project.allowed_origins or []),
    }
    tests, _total = testcases.list_for(project)
    response = render_template(
        "pages/settings.html",
        project=project,
        tab="settings",
        errors=errors or {},
        values=values or current,
        environments=[environments.serialize_environment(e) for e in environments.list_environments(project)],
        data_sets=[environments.serialize_data_set(d) for d in environments.list_data_sets(project)],
        suites=suites.list_for(project),
        tests=tests,
        mask=MASK,
        as_lines=as_lines,
        failed=failed,
        section_errors=section_errors or {},
        section_values=section_values or {},
    )
    return response, status, {"Cache-Control": "no-store"}


def _back(project, anchor: str):
    return redirect(url_for("pages.project_settings", project_id=project.public_id) + f"#{anchor}")


def as_lines(variables: dict[str, str]) -> str:
    """Variables as the form shows them: NAME=value, one a line."""
    return "\n".join(f"{name}={value}" for name, value in variables.items())


def read_lines(text: str) -> tuple[dict[str, str], list[str]]:
    """NAME=value lines (blank ones skipped, spaces around the name dropped) and the problems of those that
    are not; a problem names the line, never its value."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not name:
            problems.append(f"line {number} is not NAME=value")
        elif name in found:
            problems.append(f"line {number}: {name} is given twice")
        else:
            found[name] = value
    return found, problems


def checked(model, body: dict, problems: dict[str, str]):
    """Parse `body` as `model`, refusing with the form's own `problems` and the model's, every field at once.
    A problem of one variable ("variables.API_KEY") is shown beside the whole list."""
    parsed = None
    try:
        parsed = parse(model, body)
    except ValidationFailed as exc:
        for field, problem in field_errors(exc).items():
            head, _dot, name = field.partition(".")
            if head in ("variables", "secrets") and name:
                field, problem = head, f"{name}: {problem}"
            problems.setdefault(field, problem)
    if problems:
        order = ["", *body, "secrets", "testIds"]  # the banner lists them as the form shows its fields
        ranked = sorted(
            problems.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)
        )
        raise ValidationFailed.on_each([(field or None, problem) for field, problem in ranked])
    return parsed


# -- environments -----------------------------------------------------------------------------------------


def _environment_form(editing: bool) -> tuple[dict, dict, dict[str, str]]:
    """The environment form as an API body, what to keep on a refusal (no secret value), and its problems."""
    values: dict[str, Any] = {
        "name": request.form.get("name", ""),
        "baseUrl": request.form.get("baseUrl", ""),
        "variables": request.form.get("variables", ""),
        "secretName": request.form.getlist("secretName"),
        "removeSecret": request.form.getlist("removeSecret"),
    }
    problems: dict[str, str] = {}
    variables, bad = read_lines(values["variables"])
    if bad:
        problems["variables"] = "; ".join(bad)
    secrets: dict[str, str | None] = {}
    secret_problems: list[str] = []
    for number, (name, value) in enumerate(
        zip(values["secretName"], request.form.getlist("secretValue"), strict=False), start=1
    ):
        name = name.strip()
        if name and not value:
            secret_problems.append(f"{name}: type its value (secret {number})")
        elif value and not name:
            secret_problems.append(f"secret {number} has a value but no name")
        elif name:
            secrets[name] = value
    if secret_problems:
        problems["secrets"] = "; ".join(secret_problems)
    body = {"name": values["name"], "baseUrl": values["baseUrl"].strip() or None, "variables": variables}
    if editing:
        secrets.update({name: None for name in values["removeSecret"] if name not in secrets})
    if secrets:
        body["secrets"] = secrets
    return body, values, problems


def _refused(project, failed: str, exc: ValidationFailed, values: dict):
    """The Settings page again after a refused form: its errors beside the fields of the section named
    `failed` (a section's anchor, or the row's public id), what was typed kept."""
    return settings_page(
        project, failed=failed, section_errors=field_errors(exc), section_values=values, status=400
    )


@bp.post("/projects/<project_id>/environments")
@login_required
def environment_create(project_id, user):
    project = projects.get(project_id)
    body, values, problems = _environment_form(editing=False)
    try:
        environment = environments.create_environment(
            project, checked(environments.NewEnvironment, body, problems)
        )
    except ValidationFailed as exc:
        return _refused(project, "environments", exc, values)
    tell("environments", f"Environment {environment.public_id} ({environment.name}) created.")
    return _back(project, "environments")


@bp.post("/projects/<project_id>/environments/<environment_id>")
@login_required
def environment_edit(project_id, environment_id, user):
    project = projects.get(project_id)
    environment = environments.get_environment(project, environment_id)
    body, values, problems = _environment_form(editing=True)
    if body.get("secrets") and None in body["secrets"].values():
        require_admin(user)  # before anything is checked: removing a secret is a deletion
    try:
        changes = checked(environments.EnvironmentChanges, body, problems)
        environments.update_environment(environment, changes, actor=user)
    except ValidationFailed as exc:
        return _refused(project, environment.public_id, exc, values)
    tell("environments", f"Environment {environment.public_id} ({environment.name}) saved.")
    return _back(project, "environments")


@bp.post("/projects/<project_id>/environments/<environment_id>/delete")
@login_required
def environment_delete(project_id, environment_id, user):
    project = projects.get(project_id)
    environment = environments.get_environment(project, environment_id)
    public_id, name = environment.public_id, environment.name
    environments.delete(environment, actor=user)
    tell("environments", f"Environment {public_id} ({name}) deleted, with its secrets.")
    return _back(project, "environments")


# -- test-data sets ---------------------------------------------------------------------------------------


def _data_set_form() -> tuple[dict, dict, dict[str, str]]:
    values = {"name": request.form.get("name", ""), "variables": request.form.get("variables", "")}
    variables, bad = read_lines(values["variables"])
    return (
        {"name": values["name"], "variables": variables},
        values,
        ({"variables": "; ".join(bad)} if bad else {}),
    )


@bp.post("/projects/<project_id>/test-data-sets")
@login_required
def data_set_create(project_id, user):
    project = projects.get(project_id)
    body, values, problems = _data_set_form()
    try:
        data_set = environments.create_data_set(project, checked(environments.NewDataSet, body, problems))
    except ValidationFailed as exc:
        return _refused(project, "test-data-sets", exc, values)
    tell("test-data-sets", f"Test-data set {data_set.public_id} ({data_set.name}) created.")
    return _back(project, "test-data-sets")


@bp.post("/projects/<project_id>/test-data-sets/<data_set_id>")
@login_required
def data_set_edit(project_id, data_set_id, user):
    project = projects.get(project_id)
    data_set = environments.get_data_set(project, data_set_id)
    body, values, problems = _data_set_form()
    try:
        environments.update_data_set(
            data_set, checked(environments.DataSetChanges, body, problems), actor=user
        )
    except ValidationFailed as exc:
        return _refused(project, data_set.public_id, exc, values)
    tell("test-data-sets", f"Test-data set {data_set.public_id} ({data_set.name}) saved.")
    return _back(project, "test-data-sets")


@bp.post("/projects/<project_id>/test-data-sets/<data_set_id>/delete")
@login_required
def data_set_delete(project_id, data_set_id, user):
    project = projects.get(project_id)
    data_set = environments.get_data_set(project, data_set_id)
    public_id, name = data_set.public_id, data_set.name
    environments.delete(data_set, actor=user)
    tell("test-data-sets", f"Test-data set {public_id} ({name}) deleted.")
    return _back(project, "test-data-sets")


# -- suites -----------------------------------------------------------------------------------------------


def _typed_suite() -> dict:
    return {"name": request.form.get("name", ""), "testIds": request.form.getlist("testIds")}


def _suite_form(project) -> tuple[str, list]:
    """The suite form's name (checked as the API's) and tests (the project's, checked), or a refusal."""
    values = _typed_suite()
    problems: dict[str, str] = {}
    try:
        tests = suites.tests_of(project, values["testIds"])
    except ValidationFailed as exc:
        tests, problems = [], dict(exc.fields)
    return checked(suites.SuiteName, {"name": values["name"]}, problems).name, tests


@bp.post("/projects/<project_id>/suites")
@login_required
def suite_create(project_id, user):
    project = projects.get(project_id)
    try:
        name, tests = _suite_form(project)
    except ValidationFailed as exc:
        return _refused(project, "suites", exc, _typed_suite())
    suite = suites.create(project, name, [t.public_id for t in tests])
    tell("suites", f"Suite {suite.public_id} ({suite.name}) created with {len(tests)} tests.")
    return _back(project, "suites")


@bp.post("/projects/<project_id>/suites/<suite_id>")
@login_required
def suite_edit(project_id, suite_id, user):
    project = projects.get(project_id)
    suite = suites.get(project, suite_id)
    try:
        name, tests = _suite_form(project)
    except ValidationFailed as exc:
        return _refused(project, suite.public_id, exc, _typed_suite())
    wanted = {t.public_id for t in tests}
    present = {t.public_id for t in suite.tests}
    if suite.name != name:
        suites.rename(suite, name)
    if wanted - present:
        suites.add_tests(project, suite, [t.public_id for t in tests if t.public_id not in present])
    if present - wanted:
        suites.remove_tests(project, suite, sorted(present - wanted))
    tell("suites", f"Suite {suite.public_id} ({suite.name}) saved: {len(suite.tests)} tests.")
    return _back(project, "suites")


@bp.post("/projects/<project_id>/suites/<suite_id>/delete")
@login_required
def suite_delete(project_id, suite_id, user):
    project = projects.get(project_id)
    suite = suites.get(project, suite_id)
    public_id, name = suite.public_id, suite.name
    suites.delete_suite(suite, actor=user)
    tell("suites", f"Suite {public_id} ({name}) deleted; its tests stay.")
    return _back(project, "suites")


# -- healing ----------------------------------------------------------------------------------------------


@bp.post("/projects/<project_id>/heal-locators")
@login_required
def heal_switch(project_id, user):
    project = projects.get(project_id)
    require_admin(user)  # it changes what passes
    choice = request.form.get("healLocators", "")
    if choice not in ("on", "off"):
        return settings_page(
            project, failed="healing", section_errors={"healLocators": "choose on or off"}, status=400
        )
    projects.update(project, parse(projects.ProjectChanges, {"healLocators": choice == "on"}), actor=user)
    tell(
        "healing", "Healing locators turned on." if choice == "on" else "Healing locators turned off: strict."
    )
    return _back(project, "healing")


# The forms' own addresses answer a GET with the Settings tab, at their section (never a 405).
for _rule, _section in (
    ("/projects/<project_id>/environments", "environments"),
    ("/projects/<project_id>/environments/<environment_id>", "environments"),
    ("/projects/<project_id>/environments/<environment_id>/delete", "environments"),
    ("/projects/<project_id>/test-data-sets", "test-data-sets"),
    ("/projects/<project_id>/test-data-sets/<data_set_id>", "test-data-sets"),
    ("/projects/<project_id>/test-data-sets/<data_set_id>/delete", "test-data-sets"),
    ("/projects/<project_id>/suites", "suites"),
    ("/projects/<project_id>/suites/<suite_id>", "suites"),
    ("/projects/<project_id>/suites/<suite_id>/delete", "suites"),
    ("/projects/<project_id>/heal-locators", "healing"),
):
    get_goes_back(_rule, "pages.project_settings", _section)
