"""`flask schedules list|create|pause|resume`: a project's schedules from the command line. The serving
processes fire them; these commands only change the rows."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from . import projects
from .errors import SentriError
from .models import isoformat
from .schedules import cron, manage
from .validation import parse

schedules = AppGroup("schedules", help="List, create, pause and resume a project's schedules.")


def _fail(exc: SentriError) -> click.ClickException:
    return click.ClickException(exc.message)


def _line(schedule) -> str:
    state = f"next {isoformat(schedule.next_run_at)}" if schedule.enabled else "paused"
    return (
        f"{schedule.public_id}\t{schedule.name}\t{schedule.cron} ({schedule.timezone}: "
        f"{cron.describe(schedule.cron)})\t{state}"
    )


@schedules.command("list")
@click.option("--project", "project_id", required=True, help="The project (PRJ-n).")
def schedules_list(project_id: str) -> None:
    """List a project's schedules: id, name, cron in words, and when each fires next (or paused)."""
    try:
        found = manage.list_for(projects.get(project_id))
    except SentriError as exc:
        raise _fail(exc) from None
    if not found:
        click.echo(
            f"No schedules yet: flask schedules create --project {project_id} --name NAME --cron '0 2 * * *'"
        )
    for schedule in found:
        click.echo(_line(schedule))


@schedules.command("create")
@click.option("--project", "project_id", required=True, help="The project (PRJ-n).")
@click.option("--name", required=True, help="What the schedule is called (runs show it).")
@click.option(
    "--cron", "expression", required=True, help="Five fields: minute hour day-of-month month day-of-week."
)
@click.option("--timezone", default="UTC", show_default=True, help="The IANA time zone the cron is read in.")
@click.option(
    "--options", "options_json", help="The runs' trigger body, as JSON (suiteIds, environmentId, ...)."
)
@click.option("--paused", is_flag=True, help="Create it paused.")
def schedules_create(
    project_id: str, name: str, expression: str, timezone: str, options_json: str | None, paused: bool
) -> None:
    """Create a schedule; its id is the last line."""
    try:
        options = json.loads(options_json) if options_json else {}
    except ValueError:
        raise click.ClickException("--options must be a JSON object") from None
    try:
        project = projects.get(project_id)
        body = parse(
            manage.NewSchedule,
            {
                "name": name,
                "cron": expression,
                "timezone": timezone,
                "enabled": not paused,
                "options": options,
            },
        )
        schedule = manage.create(project, body, created_by="cli")
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(_line(schedule))
    click.echo(schedule.public_id)


def _enable(schedule_id: str, enabled: bool) -> None:
    try:
        schedule = manage.by_id(schedule_id)
        manage.update(schedule, manage.ScheduleChanges(enabled=enabled))
    except SentriError as exc:
        raise _fail(exc) from None
    click.echo(_line(schedule))
    click.echo(schedule.public_id)


@schedules.command("pause")
@click.argument("schedule_id")
def schedules_pause(schedule_id: str) -> None:
    """Pause a schedule (SCH-n): it fires no more until resumed."""
    _enable(schedule_id, False)


@schedules.command("resume")
@click.argument("schedule_id")
def schedules_resume(schedule_id: str) -> None:
    """Resume a paused schedule (SCH-n) from its next time after now."""
    _enable(schedule_id, True)
