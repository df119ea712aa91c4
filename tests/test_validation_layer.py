"""One validation layer: a rule is said once, by the model beside its domain function, and the API, the
pages and the CLI answer the same sentence for the same bad value; every bad field is named at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sentri import environments, projects, users
from sentri.errors import ValidationFailed
from sentri.runs import options
from sentri.validation import parse
from tests.test_ui_pages import Browser

ROUTES = Path(__file__).resolve().parents[1] / "sentri" / "routes"
LONG_NAME = "x" * 201


def test_the_same_bad_name_gets_the_same_sentence_on_the_api_the_page_and_the_cli(
    app, client, admin_headers, runner
):
    api = client.post(
        "/api/v1/projects", json={"name": LONG_NAME, "baseUrl": "https://shop.example"}, headers=admin_headers
    )
    assert api.status_code == 400
    assert api.get_json() == {"error": "name: must be 1 to 200 characters"}

    page = Browser(app.test_client(), "admin@example.com")
    answer = page.post("/projects", {"name": LONG_NAME, "baseUrl": "https://shop.example"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="project-name-error"' in html and "must be 1 to 200 characters" in html

    cli = runner.invoke(args=["projects", "create", LONG_NAME, "--base-url", "https://shop.example"])
    assert cli.exit_code != 0 and "name: must be 1 to 200 characters" in cli.output

    with app.app_context():
        assert projects.list_all()[1] == 0  # nothing was created by any of the three


def test_every_bad_field_is_named_at_once_with_its_own_problem(app):
    with app.app_context(), pytest.raises(ValidationFailed) as caught:
        parse(projects.NewProject, {"name": "", "baseUrl": "file:///etc/passwd", "colour": "red", "size": 1})
    error = caught.value
    assert error.message.startswith(
        "colour, size: unknown field (accepted: name, baseUrl); name: must be 1 to 200"
    )
    assert error.fields["name"] == "must be 1 to 200 characters"
    assert error.fields["baseUrl"] == "must be an absolute http:// or https:// URL"


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (
            {"name": "staging", "variables": {"1A": "x"}},
            "variables",
            "'1A' is not a variable name (letters, digits, _)",
        ),
        (
            {"name": "staging", "secrets": {"TOKEN": 7}},
            "secrets.TOKEN",
            "must be a string of at most 10000 characters",
        ),
        ({"name": "staging", "variables": ["A"]}, "variables", "must be an object of NAME: value"),
        (
            {"name": "staging", "baseUrl": "javascript:alert(1)"},
            "baseUrl",
            "must be an absolute http:// or https:// URL",
        ),
        ({"name": 5}, "name", "must be a string (1 to 200 characters)"),
    ],
)
def test_shared_field_types_name_the_field_and_the_rule(app, body, field, problem):
    with app.app_context(), pytest.raises(ValidationFailed) as caught:
        parse(environments.NewEnvironment, body)
    assert caught.value.fields == {field: problem}
    assert caught.value.message == f"{field}: {problem}"


def test_a_patch_tells_a_field_left_out_from_a_field_cleared(app):
    with app.app_context():
        cleared = parse(environments.EnvironmentChanges, {"baseUrl": None})
        untouched = parse(environments.EnvironmentChanges, {"name": "qa"})
    assert cleared.model_fields_set == {"base_url"} and cleared.base_url is None
    assert untouched.model_fields_set == {"name"}
    with app.app_context(), pytest.raises(ValidationFailed, match="^name: "):
        parse(environments.EnvironmentChanges, {"name": None})  # a name cannot be cleared


def test_passwords_follow_one_rule_everywhere(app, runner):
    for model, field, data in (
        (users.NewUser, "password", {"email": "a@example.com", "password": "short"}),
        (users.PasswordReset, "newPassword", {"newPassword": "short"}),
        (users.PasswordChange, "newPassword", {"currentPassword": "x", "newPassword": "short"}),
    ):
        with app.app_context(), pytest.raises(ValidationFailed) as caught:
            parse(model, data)
        assert caught.value.fields == {field: f"must be at least {users.MIN_PASSWORD_LENGTH} characters"}
    with app.app_context(), pytest.raises(ValidationFailed) as caught:
        parse(users.NewUser, {"email": "a@example.com", "password": "p" * 1025, "role": "owner"})
    assert caught.value.fields == {
        "password": "must be at most 1024 characters",
        "role": "must be one of admin, member",
    }


def test_trigger_bodies_keep_their_lenient_rules(app):
    with app.app_context():
        parsed = options.parse_options(
            {"dialsConfig": {"parallelWorkers": 99, "retries": 2.9, "testCount": 30}, "budgetMinutes": "soon"}
        )
        assert (parsed.parallel_workers, parsed.retries, parsed.budget_minutes) == (10, 2, None)
        with pytest.raises(ValidationFailed, match="^dialsConfig: unknown field"):
            options.parse_options({"dialsConfig": {}}, surface="ci")
        with pytest.raises(ValidationFailed) as caught:
            options.parse_options({"caseIds": [], "device": "tablet", "wait": "yes"})
    assert caught.value.fields == {
        "caseIds": "must be a non-empty list of test ids like TST-7",
        "device": "must be one of desktop, mobile",
        "wait": "must be true or false",
    }


def test_a_github_token_never_shows_in_a_parsed_body(app):
    with app.app_context():
        body = parse(
            options.SentriTrigger, {"githubRepo": "o/r", "githubPrNumber": 1, "githubToken": "ghp_SECRET"}
        )
    assert "ghp_SECRET" not in repr(body) and "ghp_SECRET" not in str(body)


def test_routes_hold_no_body_models_and_no_hand_written_checks():
    """A view parses with the domain's model; a rule written in a route would be a second layer."""
    for path in ROUTES.glob("*.py"):
        tree = ast.parse(path.read_text())
        imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "pydantic" not in imports, f"{path.name} declares its own body model"
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
                assert "Body" not in bases and "BaseModel" not in bases, f"{path.name}: {node.name}"
