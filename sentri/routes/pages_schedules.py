"""Project tab Schedules & alerts: the project's schedules (any user creates, pauses and resumes them; an
admin deletes them), each with its next and last runs and its last skip, and its notification channels
(every user sees them, masked; admins add, test, pause and delete them). Views on the `pages` blueprint
that call schedules.manage and notify.channels, as the API does."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for

from .. import environments, projects, suites
from ..errors import ValidationFailed
from ..notify import channels, outbox
from ..notify.models import EVENTS, KINDS
from ..runs.options import DEVICES
from ..schedules import cron, manage
from ..settings import settings
from ..users import require_admin
from ..validation import parse
from .helpers import public_base
from .pages_common import bp, field_errors, get_goes_back, login_required

NEW = "new"  # the value of a form's `form` field when it creates


def _local(iso: str, zone: str) -> str:
    """An instant as the schedule's clock shows it ("2030-01-01 02:00 CET")."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _tab(
    project,
    *,
    schedule_errors: dict | None = None,
    channel_errors: dict | None = None,
    values: dict | None = None,
    status: int = 200,
):
    shown = []
    for schedule in manage.list_for(project):
        body = manage.serialize(schedule)
        body["nextRunsLocal"] = [_local(at, schedule.timezone) for at in body["nextRuns"]]
        shown.append((body, manage.last_runs(schedule)))
    return render_template(
        "pages/schedules.html",
        project=project,
        schedules=shown,
        tab="schedules",
        channels=[channels.serialize(c) for c in channels.list_for(project)],
        suites=suites.list_for(project),
        environments=environments.list_environments(project),
        devices=DEVICES,
        kinds=KINDS,
        events=EVENTS,
        smtp=bool(settings().smtp_url),
        zones=(
            "UTC",
            "Europe/London",
            "Europe/Berlin",
            "America/New_York",
            "America/Los_Angeles",
            "Asia/Tokyo",
        ),
        schedule_errors=schedule_errors or {},
        channel_errors=channel_errors or {},
        values=values or {},
    ), status


def _back(project, anchor: str = ""):
    return redirect(url_for("pages.project_schedules", project_id=project.public_id) + anchor)


@bp.get("/projects/<project_id>/schedules")
@login_required
def project_schedules(project_id, user):
    return _tab(projects.get(project_id))


# -- schedules ----------------------------------------------------------------------------------------------


def _schedule_body() -> dict:
    """The schedule form as the API's body: its run options are the trigger's (suites, device, environment)."""
    options: dict = {}
    if request.form.getlist("suiteIds"):
        options["suiteIds"] = request.form.getlist("suiteIds")
    for name in ("device", "environmentId"):
        if request.form.get(name):
            options[name] = request.form[name]
    return {
        "name": request.form.get("name", ""),
        "cron": request.form.get("cron", ""),
        "timezone": request.form.get("timezone") or "UTC",
        "enabled": "enabled" in request.form,
        "options": options,
    }


@bp.post("/projects/<project_id>/schedules")
@login_required
def schedule_create(project_id, user):
    project = projects.get(project_id)
    body = _schedule_body()
    try:
        schedule = manage.create(
            project, parse(manage.NewSchedule, body), created_by=user.public_id, public_url=public_base()
        )
    except ValidationFailed as exc:
        return _tab(project, schedule_errors=field_errors(exc), values=body, status=400)
    flash(
        f"Schedule {schedule.public_id} ({schedule.name}) created: {cron.describe(schedule.cron)}.", "success"
    )
    return _back(project)


@bp.post("/projects/<project_id>/schedules/<schedule_id>/<any('pause', 'resume'):action>")
@login_required
def schedule_pause(project_id, schedule_id, action, user):
    project = projects.get(project_id)
    schedule = manage.get(project, schedule_id)
    manage.update(schedule, parse(manage.ScheduleChanges, {"enabled": action == "resume"}))
    flash(f"Schedule {schedule.public_id} {'resumed' if action == 'resume' else 'paused'}.", "success")
    return _back(project)


@bp.post("/projects/<project_id>/schedules/<schedule_id>/delete")
@login_required
def schedule_delete(project_id, schedule_id, user):
    project = projects.get(project_id)
    schedule = manage.get(project, schedule_id)
    public_id = schedule.public_id
    manage.delete(schedule, actor=user)
    flash(f"Schedule {public_id} deleted; its runs stay.", "success")
    return _back(project)


# -- notification channels ---------------------------------------------------------------------------------


@bp.post("/projects/<project_id>/notifications")
@login_required
def channel_create(project_id, user):
    project = projects.get(project_id)
    require_admin(user)  # before the body is read, as in the API
    body = {
        "name": request.form.get("name", ""),
        "kind": request.form.get("kind", ""),
        "target": request.form.get("target", ""),
        "events": request.form.getlist("events"),
    }
    try:
        channel = channels.create(project, parse(channels.NewChannel, body), actor=user)
    except ValidationFailed as exc:
        values = {f"channel.{k}": v for k, v in body.items() if k != "target"}  # the target is never echoed
        return _tab(project, channel_errors=field_errors(exc), values=values, status=400)
    flash(
        f"Channel {channel.public_id} ({channel.name}) added. Send it a test message to check it.", "success"
    )
    return _back(project, "#alerts")


@bp.post("/projects/<project_id>/notifications/<channel_id>/test")
@login_required
def channel_test(project_id, channel_id, user):
    project = projects.get(project_id)
    channel = channels.get(project, channel_id)
    require_admin(user)
    outcome = outbox.send_sample(project, channel, f"{public_base()}/projects/{project.public_id}/runs")
    if outcome.delivered:
        flash(f"{channel.public_id} received the test message (answer {outcome.status}).", "success")
    else:
        flash(f"{channel.public_id} did not receive the test message: {outcome.error}", "error")
    return _back(project, "#alerts")


@bp.post("/projects/<project_id>/notifications/<channel_id>/<any('pause', 'resume'):action>")
@login_required
def channel_pause(project_id, channel_id, action, user):
    project = projects.get(project_id)
    channel = channels.get(project, channel_id)
    channels.update(channel, parse(channels.ChannelChanges, {"enabled": action == "resume"}), actor=user)
    flash(f"Channel {channel.public_id} {'resumed' if action == 'resume' else 'paused'}.", "success")
    return _back(project, "#alerts")


@bp.post("/projects/<project_id>/notifications/<channel_id>/delete")
@login_required
def channel_delete(project_id, channel_id, user):
    project = projects.get(project_id)
    channel = channels.get(project, channel_id)
    public_id = channel.public_id
    channels.delete(channel, actor=user)
    flash(f"Channel {public_id} deleted.", "success")
    return _back(project, "#alerts")


for _rule, _section in (
    ("/projects/<project_id>/schedules/<schedule_id>/<any('pause', 'resume'):action>", "schedules"),
    ("/projects/<project_id>/schedules/<schedule_id>/delete", "schedules"),
    ("/projects/<project_id>/notifications", "alerts"),
    ("/projects/<project_id>/notifications/<channel_id>/test", "alerts"),
    ("/projects/<project_id>/notifications/<channel_id>/<any('pause', 'resume'):action>", "alerts"),
    ("/projects/<project_id>/notifications/<channel_id>/delete", "alerts"),
):
    get_goes_back(_rule, "pages.project_schedules", _section)
