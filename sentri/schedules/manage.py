"""Schedules over the API, the pages and the CLI: created, edited, paused, deleted and shown.

A schedule's `options` is a trigger body, validated by the trigger's own model (runs/options.py) and the
project's rules (environment, test-data set and suites of the project, baseUrl within its origins), limited
to what a run nobody waits for can use: no `wait`, no callback, no GitHub token (never stored)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy import select

from ..database import write
from ..errors import ValidationFailed
from ..extensions import db
from ..models import Project, Run, User, isoformat, utcnow
from ..policies import selection
from ..public_ids import get_or_404
from ..queue import lifecycle
from ..runs.options import parse_options
from ..users import require_admin
from ..validation import Body, Flag, Name, problem
from . import cron
from .models import Schedule

# The trigger fields a schedule may set; the others need a caller (wait, callbackUrl, GitHub, changed files).
OPTION_FIELDS = (
    "caseIds",
    "suiteIds",
    "baseUrl",
    "environmentId",
    "testDataSetId",
    "variables",
    "browserProfile",
    "device",
    "budgetMinutes",
    "dialsConfig",
    "branch",
)
UPCOMING = 3
LAST_RUNS = 5


def _cron(value: Any) -> str:
    try:
        return cron.check(value)
    except ValueError as exc:
        raise problem(str(exc)) from None


def _timezone(value: Any) -> str:
    try:
        cron.zone(value)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return value


def _options(value: Any) -> dict:
    if not isinstance(value, dict):
        raise problem("must be an object: a trigger body (suiteIds, caseIds, baseUrl, environmentId, ...)")
    unknown = sorted(set(value) - set(OPTION_FIELDS))
    if unknown:
        raise problem(f"{', '.join(unknown)}: not for a schedule (accepted: {', '.join(OPTION_FIELDS)})")
    return value


Cron = Annotated[str, BeforeValidator(_cron)]
TimeZone = Annotated[str, BeforeValidator(_timezone)]
Options = Annotated[dict, BeforeValidator(_options)]


class NewSchedule(Body):
    name: Name
    cron: Cron
    timezone: TimeZone = "UTC"
    enabled: Flag = True
    options: Options = Field(default_factory=dict)


class ScheduleChanges(Body):
    """A field left out stays; null is refused (a schedule always has each)."""

    name: Name = None  # type: ignore[assignment]
    cron: Cron = None  # type: ignore[assignment]
    timezone: TimeZone = None  # type: ignore[assignment]
    enabled: Flag = None  # type: ignore[assignment]
    options: Options = None  # type: ignore[assignment]


def check_options(project: Project, options: dict) -> dict:
    """Validate a schedule's trigger body as a trigger would be, now: 400 naming each `options.<field>`."""
    try:
        parsed = parse_options(options)
        lifecycle.check_settings(project, parsed)
        approved = lifecycle.approved_tests(project)
        selection.choose(project, approved, parsed.selection)
    except ValidationFailed as exc:
        problems = [(f"options.{field}" if field else "options", text) for field, text in exc.fields.items()]
        raise ValidationFailed.on_each(problems or [("options", exc.message)]) from None
    return options


def create(
    project: Project, body: NewSchedule, *, created_by: str, public_url: str | None = None
) -> Schedule:
    """Create a schedule; an enabled one fires first at its next time after now."""
    check_options(project, body.options)
    now = utcnow()
    schedule = Schedule(
        project_id=project.id,
        name=body.name,
        cron=body.cron,
        timezone=body.timezone,
        enabled=body.enabled,
        options=body.options,
        public_url=public_url,
        created_by=created_by,
        next_run_at=cron.next_after(body.cron, body.timezone, now) if body.enabled else None,
        created_at=now,
        updated_at=now,
    )
    with write():
        db.session.add(schedule)
    return schedule


def update(schedule: Schedule, body: ScheduleChanges) -> Schedule:
    """Change a schedule. A new cron, time zone or a resume sets its next time from now: an occurrence missed
    while paused is not made up for."""
    given = body.model_fields_set
    if "options" in given:
        check_options(db.session.get(Project, schedule.project_id), body.options)
    timing = bool({"cron", "timezone"} & given) or ("enabled" in given and body.enabled != schedule.enabled)
    with write():
        for name in ("name", "cron", "timezone", "enabled", "options"):
            if name in given:
                setattr(schedule, name, getattr(body, name))
        if timing:
            schedule.next_run_at = (
                cron.next_after(schedule.cron, schedule.timezone, utcnow()) if schedule.enabled else None
            )
        schedule.updated_at = utcnow()
    return schedule


def delete(schedule: Schedule, *, actor: User | None = None) -> None:
    """Delete a schedule (admins, or the CLI); its runs stay, named by its id."""
    require_admin(actor)
    with write():
        db.session.delete(schedule)


def get(project: Project, public_id: Any) -> Schedule:
    return get_or_404(Schedule, public_id, project=project)


def by_id(public_id: Any) -> Schedule:
    """The schedule with this id in any project (the CLI names schedules alone), or a 404."""
    return get_or_404(Schedule, public_id)


def list_for(project: Project) -> list[Schedule]:
    return list(
        db.session.scalars(select(Schedule).where(Schedule.project_id == project.id).order_by(Schedule.id))
    )


def last_runs(schedule: Schedule, limit: int = LAST_RUNS) -> list[Run]:
    """The schedule's newest runs (its runs carry its id as triggered_by)."""
    return list(
        db.session.scalars(
            select(Run)
            .where(
                Run.project_id == schedule.project_id,
                Run.trigger_source == "schedule",
                Run.triggered_by == schedule.public_id,
            )
            .order_by(Run.id.desc())
            .limit(limit)
        )
    )


def serialize(schedule: Schedule) -> dict:
    """The API form: its settings, the sentence of its cron, when it fires next and what it did last."""
    upcoming = []
    if schedule.next_run_at is not None:
        later = cron.upcoming(schedule.cron, schedule.timezone, schedule.next_run_at, UPCOMING - 1)
        upcoming = [schedule.next_run_at, *later]
    return {
        "id": schedule.public_id,
        "projectId": Project.format_id(schedule.project_id),
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "description": cron.describe(schedule.cron),
        "enabled": schedule.enabled,
        "options": schedule.options or {},
        "nextRunAt": isoformat(schedule.next_run_at),
        "nextRuns": [isoformat(at) for at in upcoming],
        "lastRunAt": isoformat(schedule.last_run_at),
        "lastRunId": Run.format_id(schedule.last_run_id),
        "lastSkip": schedule.last_skip,
        "createdBy": schedule.created_by,
        "createdAt": isoformat(schedule.created_at),
        "updatedAt": isoformat(schedule.updated_at),
    }
