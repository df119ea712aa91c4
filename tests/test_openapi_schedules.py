"""Schedules and notification channels answer as GET /api/v1/openapi.json describes them: each success and
each refusal (400, 403, 404) against the documented status, content type and schema, and a run's
`integrations.notifications` after a delivery."""

from __future__ import annotations

import time

from sentri.extensions import db
from sentri.models import Project, Run
from tests.support.receivers import Receiver
from tests.support.runs import recorded_run
from tests.test_openapi import Described, _people


def test_schedules_and_notification_channels_answer_as_described(app_factory):
    app = app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    api = Described(app.test_client())
    _, admin, member = _people(app)
    pid = api(
        "POST",
        "/api/v1/projects",
        201,
        headers=admin,
        json_body={"name": "Shop", "baseUrl": "http://127.0.0.1:9"},
    ).get_json()["id"]
    p = {"projectId": pid}
    tid = api(
        "POST",
        "/api/v1/projects/{projectId}/tests",
        201,
        headers=member,
        json_body={"name": "Home", "steps": [{"goto": "/"}]},
        **p,
    ).get_json()["id"]
    api("POST", "/api/v1/projects/{projectId}/tests/{testId}/approve", 200, headers=member, testId=tid, **p)

    many = "/api/v1/projects/{projectId}/schedules"
    one = many + "/{scheduleId}"
    sid = api(
        "POST",
        many,
        201,
        headers=member,
        json_body={
            "name": "nightly",
            "cron": "0 2 * * *",
            "timezone": "Europe/Berlin",
            "options": {"device": "mobile"},
        },
        **p,
    ).get_json()["id"]
    api("POST", many, 400, headers=member, json_body={"name": "x", "cron": "0 25 * * *"}, **p)
    api("POST", many, 404, headers=member, json_body={"name": "x", "cron": "0 2 * * *"}, projectId="PRJ-404")
    assert api("GET", many, 200, headers=member, **p).get_json()[0]["id"] == sid
    api("GET", one, 200, headers=member, scheduleId=sid, **p)
    api("GET", one, 404, headers=member, scheduleId="SCH-404", **p)
    paused = api(
        "PATCH", one, 200, headers=member, json_body={"enabled": False}, scheduleId=sid, **p
    ).get_json()
    assert paused["nextRunAt"] is None and paused["nextRuns"] == []
    api("PATCH", one, 400, headers=member, json_body={"timezone": "Nowhere/Else"}, scheduleId=sid, **p)
    api("DELETE", one, 403, headers=member, scheduleId=sid, **p)
    api("DELETE", one, 200, headers=admin, scheduleId=sid, **p)
    api("DELETE", one, 404, headers=admin, scheduleId=sid, **p)

    channels = "/api/v1/projects/{projectId}/notifications"
    channel = channels + "/{channelId}"
    with Receiver("discord") as discord:
        nid = api(
            "POST",
            channels,
            201,
            headers=admin,
            json_body={"name": "ops", "kind": "discord", "target": discord.url, "events": ["every"]},
            **p,
        ).get_json()["id"]
        api(
            "POST",
            channels,
            400,
            headers=admin,
            json_body={"name": "x", "kind": "discord", "target": "file:///etc/passwd"},
            **p,
        )
        api(
            "POST",
            channels,
            403,
            headers=member,
            json_body={"name": "x", "kind": "discord", "target": discord.url},
            **p,
        )
        api("POST", channels, 404, headers=admin, json_body={}, projectId="PRJ-404")
        api("GET", channels, 200, headers=member, **p)
        api("GET", channel, 200, headers=member, channelId=nid, **p)
        api("GET", channel, 404, headers=member, channelId="NTF-404", **p)
        api(
            "PATCH",
            channel,
            200,
            headers=admin,
            json_body={"events": ["failed", "recovered", "every"]},
            channelId=nid,
            **p,
        )
        api("PATCH", channel, 400, headers=admin, json_body={"events": ["never"]}, channelId=nid, **p)
        api("PATCH", channel, 403, headers=member, json_body={"enabled": False}, channelId=nid, **p)
        tested = api("POST", channel + "/test", 200, headers=admin, channelId=nid, **p).get_json()
        assert tested["delivered"] is True and tested["status"] == 204
        api("POST", channel + "/test", 403, headers=member, channelId=nid, **p)
        api("POST", channel + "/test", 404, headers=admin, channelId="NTF-404", **p)

        with app.app_context():
            run_id = recorded_run(
                db.session.get(Project, Project.key_of(pid)), [{"status": "passed"}]
            ).public_id
        deadline = time.monotonic() + 30
        while True:  # until the delivery is recorded on the run
            body = api("GET", "/api/v1/runs/{runId}", 200, headers=member, runId=run_id).get_json()
            told = body["integrations"].get("notifications", [])
            if told and told[0]["state"] == "delivered":
                break
            assert time.monotonic() < deadline, told
            time.sleep(0.05)
        assert told[0]["channelId"] == nid and told[0]["event"] == "every"
        with app.app_context():
            assert db.session.get(Run, Run.key_of(run_id)).notify_state == "sent"

    api("DELETE", channel, 403, headers=member, channelId=nid, **p)
    api("DELETE", channel, 200, headers=admin, channelId=nid, **p)
    api("DELETE", channel, 404, headers=admin, channelId=nid, **p)
