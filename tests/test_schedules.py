"""Schedules: the API and its refusals, the CLI, and firing with an injected clock (fire_due(now)): once per
occurrence however many processes look, once after a restart that missed occurrences, at the right UTC
time on both sides of a daylight-saving change, and a skip (not a queued run) when the project is busy."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from sentri.extensions import db
from sentri.models import ACTIVE_RUN_STATUSES, Project, Run
from sentri.queue import lifecycle
from sentri.schedules import cron, firing
from sentri.schedules.models import Schedule
from tests.conftest import both_databases

STEPS = [{"action": "goto", "url": "/ok"}]


def _approved_test(client, headers, project_id: str) -> str:
    test = client.post(
        f"/api/v1/projects/{project_id}/tests", json={"name": "home", "steps": STEPS}, headers=headers
    ).get_json()
    assert (
        client.post(f"/api/v1/projects/{project_id}/tests/{test['id']}/approve", headers=headers).status_code
        == 200
    )
    return test["id"]


def _schedule(client, headers, project_id: str, **body) -> dict:
    response = client.post(
        f"/api/v1/projects/{project_id}/schedules", json={"name": "nightly", **body}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _due_at(app, schedule_id: str, when: datetime) -> None:
    with app.app_context():
        db.session.execute(
            update(Schedule).where(Schedule.id == Schedule.key_of(schedule_id)).values(next_run_at=when)
        )
        db.session.commit()


def _fire(app, now: datetime) -> list[int]:
    with app.app_context():
        return firing.fire_due(now)


def _runs(app, schedule_id: str) -> list[Run]:
    with app.app_context():
        found = list(db.session.scalars(select(Run).where(Run.triggered_by == schedule_id).order_by(Run.id)))
        db.session.expunge_all()
        return found


def _end_active_runs(app) -> None:
    """Abort the runs a firing left queued (no engine runs them here), freeing the project's lock."""
    with app.app_context():
        for run in db.session.scalars(select(Run).where(Run.status.in_(ACTIVE_RUN_STATUSES))).all():
            lifecycle.abort(run)


def _row(app, schedule_id: str) -> Schedule:
    with app.app_context():
        row = db.session.get(Schedule, Schedule.key_of(schedule_id))
        db.session.expunge(row)
        return row


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the API --------------------------------------------------------------------------------------------


def test_a_schedule_says_its_cron_in_words_and_when_it_fires(client, admin_headers, project):
    _approved_test(client, admin_headers, project["id"])
    created = _schedule(
        client,
        admin_headers,
        project["id"],
        cron="0  2 * * 1-5",
        timezone="Europe/Berlin",
        options={"device": "mobile", "budgetMinutes": 30},
    )
    assert created["id"] == "SCH-1" and created["cron"] == "0 2 * * 1-5"
    assert created["description"] == "At 02:00, Monday through Friday"
    assert created["enabled"] is True and created["lastRunAt"] is None and created["lastSkip"] is None
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in created["nextRuns"]]
    assert created["nextRunAt"] == created["nextRuns"][0] and len(times) == 3 and times == sorted(times)
    for moment in times:  # 02:00 on a weekday, in Berlin, whatever the UTC offset that day
        local = moment.astimezone(cron.zone("Europe/Berlin"))
        assert (local.hour, local.minute) == (2, 0) and local.weekday() < 5
    listed = client.get(f"/api/v1/projects/{project['id']}/schedules", headers=admin_headers).get_json()
    assert [s["id"] for s in listed] == ["SCH-1"]

    paused = client.patch(
        f"/api/v1/projects/{project['id']}/schedules/SCH-1", json={"enabled": False}, headers=admin_headers
    ).get_json()
    assert paused["enabled"] is False and paused["nextRunAt"] is None and paused["nextRuns"] == []
    resumed = client.patch(
        f"/api/v1/projects/{project['id']}/schedules/SCH-1",
        json={"enabled": True, "cron": "*/15 * * * *"},
        headers=admin_headers,
    ).get_json()
    assert resumed["description"] == "Every 15 minutes" and resumed["nextRunAt"].endswith(
        ("00:00Z", "15:00Z", "30:00Z", "45:00Z")
    )


def test_bad_schedules_get_a_400_naming_the_field(client, admin_headers, project):
    base = f"/api/v1/projects/{project['id']}/schedules"
    cases = [
        ({"cron": "61 * * * *"}, "cron:"),
        ({"cron": "* * * *"}, "cron:"),
        ({"cron": "0 0 * * * *"}, "cron:"),  # six fields: seconds are not cron's
        ({"cron": "* * * * *", "timezone": "Mars/Olympus_Mons"}, "timezone:"),
        ({"cron": "* * * * *", "timezone": "../../etc/passwd"}, "timezone:"),
        ({"cron": "* * * * *", "options": {"wait": True}}, "options:"),
        ({"cron": "* * * * *", "options": {"githubToken": "x"}}, "options:"),
        ({"cron": "* * * * *", "options": {"device": "toaster"}}, "options.device:"),
        ({"cron": "* * * * *", "options": {"baseUrl": "https://elsewhere.example.com"}}, "options.baseUrl:"),
        ({"cron": "* * * * *", "options": {"suiteIds": ["SUI-404"]}}, "options.suiteIds:"),
        ({"cron": "* * * * *", "options": {"environmentId": "ENV-404"}}, "options.environmentId:"),
    ]
    for body, field in cases:
        response = client.post(base, json={"name": "x", **body}, headers=admin_headers)
        assert response.status_code == 400, body
        assert response.get_json()["error"].startswith(field), (body, response.get_json())
    assert client.get(base, headers=admin_headers).get_json() == []


def test_only_an_admin_deletes_a_schedule(client, admin_headers, member_headers, project):
    created = _schedule(client, member_headers, project["id"], cron="0 3 * * *")
    url = f"/api/v1/projects/{project['id']}/schedules/{created['id']}"
    assert client.delete(url, headers=member_headers).status_code == 403
    assert client.delete(url, headers=admin_headers).status_code == 200
    assert client.get(url, headers=admin_headers).status_code == 404


# -- firing -----------------------------------------------------------------------------------------------


@both_databases
def test_a_minutely_schedule_fires_once_per_minute(app, client, admin_headers, project):
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(client, admin_headers, project["id"], cron="* * * * *")
    _due_at(app, schedule["id"], at("2030-01-01T12:00:00"))
    assert len(_fire(app, at("2030-01-01T12:00:01"))) == 1
    for later in ("2030-01-01T12:00:01", "2030-01-01T12:00:30", "2030-01-01T12:00:59"):
        assert _fire(app, at(later)) == []  # the next one is 12:01
    _end_active_runs(app)
    assert len(_fire(app, at("2030-01-01T12:01:00.500000"))) == 1
    runs = _runs(app, schedule["id"])
    assert len(runs) == 2
    assert all(
        r.trigger_source == "schedule" and r.options["schedule"] == {"id": "SCH-1", "name": "nightly"}
        for r in runs
    )
    row = _row(app, schedule["id"])
    assert row.next_run_at == at("2030-01-01T12:02:00") and row.last_run_id == runs[-1].id
    assert row.last_run_at == at("2030-01-01T12:01:00.500000") and row.last_skip is None


@both_databases
def test_processes_racing_for_a_due_schedule_start_one_run(app_factory, client, admin_headers, project):
    """Several apps on one database (each its own engine and connections, as processes are) fire the same due
    occurrence at the same instant: one run starts and nobody records a skip; minute after minute."""
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(client, admin_headers, project["id"], cron="* * * * *")
    apps = [app_factory() for _ in range(4)]
    _due_at(apps[0], schedule["id"], at("2030-01-01T12:00:00"))
    for minute in range(3):
        now = at("2030-01-01T12:00:02") + timedelta(minutes=minute)
        barrier = threading.Barrier(len(apps))
        started: list[list[int]] = [[] for _ in apps]

        def race(
            index: int, now: datetime = now, barrier: threading.Barrier = barrier, started: list = started
        ) -> None:
            with apps[index].app_context():
                barrier.wait()
                started[index] = firing.fire_due(now)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(len(ids) for ids in started) == 1, started
        _end_active_runs(apps[0])
    assert len(_runs(apps[0], schedule["id"])) == 3
    assert _row(apps[0], schedule["id"]).last_skip is None


def test_a_schedule_missed_while_down_fires_once_after_a_restart(app_factory, client, admin_headers, project):
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(client, admin_headers, project["id"], cron="0 2 * * *")
    first = app_factory()
    _due_at(first, schedule["id"], at("2030-01-01T02:00:00"))
    restarted = app_factory()  # three days and a half later: three occurrences went by unfired
    now = at("2030-01-04T10:00:00")
    assert len(_fire(restarted, now)) == 1
    assert _fire(restarted, now + timedelta(seconds=2)) == []
    assert len(_runs(restarted, schedule["id"])) == 1
    assert _row(restarted, schedule["id"]).next_run_at == at("2030-01-05T02:00:00")


def test_a_berlin_schedule_fires_at_the_right_utc_time_on_both_sides_of_each_change(
    app, client, admin_headers, project
):
    """Clocks go forward on 2026-03-29 (02:00 CET -> 03:00 CEST) and back on 2026-10-25 (03:00 CEST -> 02:00
    CET). 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer; 02:30 does not exist on the first
    day (it fires at 03:00 CEST) and happens twice on the second (it fires once, the first time)."""
    _approved_test(client, admin_headers, project["id"])
    expected = {
        "0 9 * * *": [
            "2026-03-28T08:00",
            "2026-03-29T07:00",
            "2026-03-30T07:00",
            "2026-10-24T07:00",
            "2026-10-25T08:00",
            "2026-10-26T08:00",
        ],
        "30 2 * * *": [
            "2026-03-28T01:30",
            "2026-03-29T01:00",
            "2026-03-30T00:30",
            "2026-10-24T00:30",
            "2026-10-25T00:30",
            "2026-10-26T01:30",
        ],
    }
    for expression, instants in expected.items():
        schedule = _schedule(client, admin_headers, project["id"], cron=expression, timezone="Europe/Berlin")
        for start in (0, 3):  # the spring change, then the autumn one
            _due_at(
                app,
                schedule["id"],
                cron.next_after(expression, "Europe/Berlin", at(instants[start]) - timedelta(hours=1)),
            )
            for instant in map(at, instants[start : start + 3]):
                assert _fire(app, instant - timedelta(seconds=1)) == [], (expression, instant)
                assert len(_fire(app, instant)) == 1, (expression, instant)
                assert _row(app, schedule["id"]).last_run_at == instant
                _end_active_runs(app)
        client.patch(
            f"/api/v1/projects/{project['id']}/schedules/{schedule['id']}",
            json={"enabled": False},
            headers=admin_headers,
        )
    # The second 02:30 of 2026-10-25 (01:30 UTC) is not an occurrence: the one after 00:30 UTC is the next day's.
    assert cron.next_after("30 2 * * *", "Europe/Berlin", at("2026-10-25T00:30")) == at("2026-10-26T01:30")


def test_a_busy_project_records_a_skip_instead_of_queueing_a_run(app, client, admin_headers, project):
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(client, admin_headers, project["id"], cron="*/5 * * * *")
    _due_at(app, schedule["id"], at("2030-01-01T12:00:00"))
    [first] = _fire(app, at("2030-01-01T12:00:00"))  # still queued: the project is busy from here on
    assert _fire(app, at("2030-01-01T12:05:00")) == []
    assert len(_runs(app, schedule["id"])) == 1
    shown = client.get(
        f"/api/v1/projects/{project['id']}/schedules/{schedule['id']}", headers=admin_headers
    ).get_json()
    assert shown["lastRunId"] == f"RUN-{first}" and shown["nextRunAt"] == "2030-01-01T12:10:00Z"
    assert shown["lastSkip"]["reason"] == "busy" and shown["lastSkip"]["runId"] == f"RUN-{first}"
    assert shown["lastSkip"]["at"] == "2030-01-01T12:05:00Z" and "active run" in shown["lastSkip"]["message"]


def test_an_occurrence_whose_options_no_longer_hold_is_skipped_with_why(app, client, admin_headers, project):
    """No approved test any more: the occurrence is claimed, says why, and the schedule goes on."""
    schedule = _schedule(client, admin_headers, project["id"], cron="0 * * * *")
    _due_at(app, schedule["id"], at("2030-01-01T12:00:00"))
    assert _fire(app, at("2030-01-01T12:00:00")) == []
    row = _row(app, schedule["id"])
    assert row.last_skip["reason"] == "invalid" and "no tests" in row.last_skip["message"]
    assert row.next_run_at == at("2030-01-01T13:00:00")


def test_a_scheduled_run_is_an_ordinary_run_named_by_its_schedule(app, client, admin_headers, project):
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(
        client,
        admin_headers,
        project["id"],
        name="Nightly smoke",
        cron="0 2 * * *",
        options={"device": "mobile", "dialsConfig": {"retries": 2}},
    )
    _due_at(app, schedule["id"], at("2030-01-01T02:00:00"))
    [run_id] = _fire(app, at("2030-01-01T02:00:00"))
    body = client.get(f"/api/v1/runs/RUN-{run_id}", headers=admin_headers).get_json()
    assert body["triggeredBy"] == schedule["id"] and body["status"] == "running"
    assert body["options"]["device"] == "mobile" and body["options"]["dialsConfig"]["retries"] == 2
    assert body["options"]["schedule"] == {"id": schedule["id"], "name": "Nightly smoke"}
    # The same lock as any run: a trigger for the project's browser and device now gets the 409.
    with app.app_context():
        assert lifecycle.active_run(Project.key_of(project["id"]), "chromium", "mobile").id == run_id


# -- the CLI ------------------------------------------------------------------------------------------------


def test_the_cli_lists_creates_and_pauses_schedules(app, runner, project):
    created = runner.invoke(
        args=[
            "schedules",
            "create",
            "--project",
            project["id"],
            "--name",
            "nightly",
            "--cron",
            "0 2 * * 1-5",
            "--timezone",
            "Europe/Berlin",
            "--options",
            '{"device": "mobile"}',
        ]
    )
    assert created.exit_code == 0, created.output
    assert created.output.splitlines()[-1] == "SCH-1" and "At 02:00, Monday through Friday" in created.output
    listed = runner.invoke(args=["schedules", "list", "--project", project["id"]])
    assert "SCH-1\tnightly\t0 2 * * 1-5 (Europe/Berlin" in listed.output and "next 20" in listed.output
    paused = runner.invoke(args=["schedules", "pause", "SCH-1"])
    assert paused.exit_code == 0 and "paused" in paused.output
    assert "paused" in runner.invoke(args=["schedules", "list", "--project", project["id"]]).output
    assert "next 20" in runner.invoke(args=["schedules", "resume", "SCH-1"]).output
    bad = runner.invoke(
        args=["schedules", "create", "--project", project["id"], "--name", "x", "--cron", "nope"]
    )
    assert bad.exit_code != 0 and "cron:" in bad.output
