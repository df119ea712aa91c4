"""A project's schedules and notification channels over the JSON API (user auth)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects
from ..auth import user_required
from ..errors import Forbidden
from ..extensions import csrf
from ..notify import channels, outbox
from ..schedules import manage
from ..validation import json_body, parse
from .helpers import public_base

bp = Blueprint("api_schedules", __name__, url_prefix="/api/v1/projects/<project_id>")
csrf.exempt(bp)


# -- schedules --------------------------------------------------------------------------------------------


@bp.post("/schedules")
@user_required
def create_schedule(project_id, user):
    project = projects.get(project_id)
    body = parse(manage.NewSchedule, json_body())
    schedule = manage.create(project, body, created_by=user.public_id, public_url=public_base())
    return jsonify(manage.serialize(schedule)), 201


@bp.get("/schedules")
@user_required
def list_schedules(project_id, user):
    return jsonify([manage.serialize(s) for s in manage.list_for(projects.get(project_id))])


@bp.get("/schedules/<schedule_id>")
@user_required
def read_schedule(project_id, schedule_id, user):
    return jsonify(manage.serialize(manage.get(projects.get(project_id), schedule_id)))


@bp.patch("/schedules/<schedule_id>")
@user_required
def edit_schedule(project_id, schedule_id, user):
    schedule = manage.get(projects.get(project_id), schedule_id)
    return jsonify(manage.serialize(manage.update(schedule, parse(manage.ScheduleChanges, json_body()))))


@bp.delete("/schedules/<schedule_id>")
@user_required
def delete_schedule(project_id, schedule_id, user):
    manage.delete(manage.get(projects.get(project_id), schedule_id), actor=user)
    return jsonify(ok=True)


# -- notification channels ----------------------------------------------------------------------------------


@bp.post("/notifications")
@user_required
def create_channel(project_id, user):
    project = projects.get(project_id)
    if not user.is_admin:  # before the body is read: a member learns nothing of what a target would be
        raise Forbidden("This action needs the admin role.")
    channel = channels.create(project, parse(channels.NewChannel, json_body()), actor=user)
    return jsonify(channels.serialize(channel)), 201


@bp.get("/notifications")
@user_required
def list_channels(project_id, user):
    return jsonify([channels.serialize(c) for c in channels.list_for(projects.get(project_id))])


@bp.get("/notifications/<channel_id>")
@user_required
def read_channel(project_id, channel_id, user):
    return jsonify(channels.serialize(channels.get(projects.get(project_id), channel_id)))


@bp.patch("/notifications/<channel_id>")
@user_required
def edit_channel(project_id, channel_id, user):
    channel = channels.get(projects.get(project_id), channel_id)
    if not user.is_admin:
        raise Forbidden("This action needs the admin role.")
    return jsonify(
        channels.serialize(channels.update(channel, parse(channels.ChannelChanges, json_body()), actor=user))
    )


@bp.delete("/notifications/<channel_id>")
@user_required
def delete_channel(project_id, channel_id, user):
    channels.delete(channels.get(projects.get(project_id), channel_id), actor=user)
    return jsonify(ok=True)


@bp.post("/notifications/<channel_id>/test")
@user_required
def test_channel(project_id, channel_id, user):
    """Send a sample alert now and answer with what the receiver said (200 whatever it said)."""
    project = projects.get(project_id)
    channel = channels.get(project, channel_id)
    if not user.is_admin:
        raise Forbidden("This action needs the admin role.")
    outcome = outbox.send_sample(project, channel, f"{public_base()}/projects/{project.public_id}/runs")
    return jsonify(
        delivered=outcome.delivered, status=outcome.status, answer=outcome.answer, error=outcome.error
    )
