"""Flask CLI groups: users, projects, tests, tokens, suites, schedules. The value a script needs is alone on the last line."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from . import projects as projects_domain
from . import suites as suites_domain
from . import testcases
from . import tokens as tokens_domain
from . import users as users_domain
from .cli_crawl import crawl_command
from .cli_review import review
from .cli_schedules import schedules as schedules_group
from .errors import SentriError
from .models import Project
from .policies import quarantine
from .validation import parse

users = AppGroup("users", help="Create and list user accounts, and set their passwords.")
projects = AppGroup("projects", help="Create and list projects.")
tests = AppGroup("tests", help="Import and list a project's tests; quarantine and release them.")
tokens = AppGroup("tokens", help="Create, list and revoke project trigger tokens.")
suites = AppGroup("suites", help="Group a project's tests into suites.")


def _fail(exc: SentriError) -> click.ClickException:
    return click.ClickException(exc.message)


@users.command("create")
@click.argument("email")
@click.option("--password", help="Prompted for (hidden, twice) when omitted.")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
def users_create(email: str, password: str | None, admin: bool) -> None:
    """Create a user account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        body = parse(
            users_domain.NewUser,
            {"email": email, "password": password, "role": "admin" if admin else "member"},
        )
        user = users_domain.create_user(body.email, body.password, role=body.role)
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Created {user.role} {user.email}")
    click.echo(user.public_id)


@users.command("set-password")
@click.argument("email")
@click.option("--password", help="Prompted for (hidden, twice) when omitted.")
def users_set_password(email: str, password: str | None) -> None:
    """Give a user a new password; their sessions and API tokens stop working."""
    try:
        user = users_domain.get_by_email(email)
    except SentriError as exc:
        raise _fail(exc) from None
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        body = parse(users_domain.PasswordReset, {"newPassword": password})
        users_domain.set_password(user, body.new_password)
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Password of {user.email} changed; their sessions and API tokens were logged out")
    click.echo(user.public_id)


@users.command("list")
def users_list() -> None:
    """List user accounts."""
    accounts, _total = users_domain.list_users(limit=None)
    for user in accounts:
        state = "" if user.active else "  (deactivated)"
        click.echo(f"{user.public_id}\t{user.role}\t{user.email}{state}")


@projects.command("create")
@click.argument("name")
@click.option("--base-url", required=True, help="The site the project's tests run against.")
def projects_create(name: str, base_url: str) -> None:
    """Create a project."""
    try:
        body = parse(projects_domain.NewProject, {"name": name, "baseUrl": base_url})
        project = projects_domain.create(body.name, body.base_url)
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Created project {project.name} ({project.base_url})")
    click.echo(project.public_id)


@projects.command("list")
def projects_list() -> None:
    """List projects with their ids."""
    items, _total = projects_domain.list_all()
    if not items:
        click.echo("No projects yet: flask projects create NAME --base-url URL")
    for project in items:
        click.echo(f"{project.public_id}\t{project.name}\t{project.base_url}")


def _change_origins(project_id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    try:
        project = projects_domain.get(project_id)
        wanted = list(project.allowed_origins or [])
        removing = set(
            parse(projects_domain.ProjectChanges, {"allowedOrigins": list(remove)}).allowed_origins or []
        )
        wanted = [o for o in wanted + list(add) if o not in removing]
        projects_domain.update(project, parse(projects_domain.ProjectChanges, {"allowedOrigins": wanted}))
    except SentriError as exc:
        raise _fail(exc) from None
    origins = project.allowed_origins or []
    click.echo(f"{project.public_id} allows {len(origins)} origin(s) beyond its base URLs:")
    click.echo(",".join(origins) or "none")


@projects.command("allow-origin")
@click.argument("project_id")
@click.argument("origins", nargs=-1, required=True)
def projects_allow_origin(project_id: str, origins: tuple[str, ...]) -> None:
    """Let runs of a project go to (and type secrets into) these origins or host patterns."""
    _change_origins(project_id, origins, ())


@projects.command("disallow-origin")
@click.argument("project_id")
@click.argument("origins", nargs=-1, required=True)
def projects_disallow_origin(project_id: str, origins: tuple[str, ...]) -> None:
    """Remove origins from a project's allowed origins."""
    _change_origins(project_id, (), origins)


@tests.command("import")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--approve", is_flag=True, help="Store the tests as approved instead of draft.")
@click.option(
    "--skip-unsupported", is_flag=True, help="Drop Recorder steps Sentri cannot run instead of failing."
)
def tests_import(project_id: str, file: Path, approve: bool, skip_unsupported: bool) -> None:
    """Import tests from a native JSON/YAML file or a Chrome DevTools Recorder export."""
    try:
        project = projects_domain.get(project_id)
        imported, warnings = testcases.import_file(
            project,
            file.read_text(encoding="utf-8"),
            file.name,
            approve=approve,
            skip_unsupported=skip_unsupported,
        )
    except SentriError as exc:
        raise _fail(exc) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    status = "approved" if approve else "draft"
    for test in imported:
        click.echo(f"{test.public_id}\t{status}\t{test.name}")
    click.echo(f"Imported {len(imported)} test(s) into {project.public_id}")
    click.echo(len(imported))


@tests.command("list")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.option("--status", type=click.Choice(["draft", "approved", "rejected"]))
def tests_list(project_id: str, status: str | None) -> None:
    """List a project's tests with their ids and review status."""
    try:
        items, _total = testcases.list_for(projects_domain.get(project_id), status=status)
    except SentriError as exc:
        raise _fail(exc) from None
    for test in items:
        tags = ",".join(test.tags or [])
        held = "\tquarantined" if quarantine.is_quarantined(test) else ""
        click.echo(f"{test.public_id}\t{test.review_status}\t{test.name}\t{tags}{held}")


@tests.command("quarantine")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("test_id")
@click.option("--reason", required=True, help="Why: shown on the test, the run page and the PR comment.")
def tests_quarantine(project_id: str, test_id: str, reason: str) -> None:
    """Quarantine a test: it still runs and is reported, but never counts toward failed, gates or verdict."""
    try:
        test = quarantine.enter(testcases.get(projects_domain.get(project_id), test_id), {"reason": reason})
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"{test.public_id} quarantined: {test.quarantine_reason}")


@tests.command("release")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("test_id")
def tests_release(project_id: str, test_id: str) -> None:
    """Take a test out of quarantine: its outcomes count again from the next run."""
    try:
        test = quarantine.leave(testcases.get(projects_domain.get(project_id), test_id))
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"{test.public_id} released from quarantine")


@tokens.command("create")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.option("--name", "label", default="", help="A label to recognise the token by.")
@click.option("--expires-in-days", type=click.IntRange(1, tokens_domain.MAX_EXPIRY_DAYS))
def tokens_create(project_id: str, label: str, expires_in_days: int | None) -> None:
    """Create a trigger token; the plaintext is printed once, on the last line."""
    try:
        project = projects_domain.get(project_id)
        body = parse(tokens_domain.NewToken, {"label": label, "expiresInDays": expires_in_days})
        token, plaintext = tokens_domain.create(
            project, label=body.label, expires_in_days=body.expires_in_days
        )
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Created {token.public_id} for {project.public_id}; store it now, it is not shown again:")
    click.echo(plaintext)


@tokens.command("list")
@click.option("--project", "project_id", required=True, help="PRJ-n")
def tokens_list(project_id: str) -> None:
    """List a project's tokens (never their values)."""
    try:
        items = tokens_domain.list_for(projects_domain.get(project_id))
    except SentriError as exc:
        raise _fail(exc) from None
    if not items:
        click.echo("No tokens.")
    for token in items:
        row = tokens_domain.serialize(token)
        click.echo(
            f"{row['id']}\t{row['prefix']}…\t{row['label'] or '-'}\tcreated {row['createdAt']}"
            f"\tlast used {row['lastUsedAt'] or 'never'}\texpires {row['expiresAt'] or 'never'}"
        )


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token at once."""
    try:
        token = tokens_domain.get(token_id)
        project_id = Project.format_id(token.project_id)
        tokens_domain.revoke(token)
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Revoked {token_id} of {project_id}")
    click.echo(token_id)


@suites.command("create")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("name")
@click.option("--test", "test_ids", multiple=True, help="TST-n (repeatable)")
def suites_create(project_id: str, name: str, test_ids: tuple[str, ...]) -> None:
    """Create a suite, optionally with tests."""
    try:
        body = parse(suites_domain.NewSuite, {"name": name, "testIds": list(test_ids)})
        suite = suites_domain.create(projects_domain.get(project_id), body.name, body.test_ids)
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"Created suite {suite.name} with {len(suite.tests)} test(s)")
    click.echo(suite.public_id)


@suites.command("list")
@click.option("--project", "project_id", required=True, help="PRJ-n")
def suites_list(project_id: str) -> None:
    """List a project's suites and their tests."""
    try:
        items = suites_domain.list_for(projects_domain.get(project_id))
    except SentriError as exc:
        raise _fail(exc) from None
    for suite in items:
        click.echo(f"{suite.public_id}\t{suite.name}\t{','.join(t.public_id for t in suite.tests)}")


@suites.command("add")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("suite_id")
@click.argument("test_ids", nargs=-1, required=True)
def suites_add(project_id: str, suite_id: str, test_ids: tuple[str, ...]) -> None:
    """Add tests to a suite."""
    try:
        project = projects_domain.get(project_id)
        suite = suites_domain.add_tests(project, suites_domain.get(project, suite_id), list(test_ids))
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"{suite.public_id} now holds {len(suite.tests)} test(s)")
    click.echo(len(suite.tests))


@suites.command("remove")
@click.option("--project", "project_id", required=True, help="PRJ-n")
@click.argument("suite_id")
@click.argument("test_ids", nargs=-1, required=True)
def suites_remove(project_id: str, suite_id: str, test_ids: tuple[str, ...]) -> None:
    """Remove tests from a suite."""
    try:
        project = projects_domain.get(project_id)
        suite = suites_domain.remove_tests(project, suites_domain.get(project, suite_id), list(test_ids))
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(f"{suite.public_id} now holds {len(suite.tests)} test(s)")
    click.echo(len(suite.tests))


def register_cli(app: Flask) -> None:
    """Add the command groups to the app's CLI."""
    for group in (users, projects, tests, tokens, suites, review, schedules_group):
        app.cli.add_command(group)
    app.cli.add_command(crawl_command)
