"""The heartbeat's recovery asks one read whether anything is due (issue 32: an idle process's CPU), and that
read sees every kind of work recovery does: a test or crawl whose lease ran out, a run past its budget, a run
left with nothing to do, a crawl queued for a run that ended, and an end nobody fired."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, update

from sentri import projects, testcases
from sentri.crawl.models import Crawl
from sentri.database import write
from sentri.extensions import db
from sentri.models import Result, Run, utcnow
from sentri.notify.models import NotificationChannel, NotificationDelivery
from sentri.queue import claims, crawls, lifecycle, recovery
from sentri.runs.options import RunOptions, parse_options
from sentri.runtime import runtime
from sentri.schedules.models import Schedule
from tests.conftest import both_databases

OK = [{"goto": "/ok"}]


def _run(app, name: str, *, crawl: bool = False) -> int:
    """A run of two approved tests (after a crawl of the site, with `crawl`) on a project of its own."""
    project = projects.create(name, "http://127.0.0.1:9")
    for index in range(2):
        testcases.review(testcases.create(project, {"name": f"test {index + 1}", "steps": OK}), "approve")
    options = parse_options({"crawl": True}) if crawl else RunOptions()
    return lifecycle.start(project, options, source="cli", triggered_by="test").id


def _set(model, where, **values) -> None:
    with write():
        db.session.execute(update(model).where(where).values(**values))


@both_databases
def test_an_idle_processs_recovery_is_one_read(app):
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            statements.append(statement)

    with app.app_context():
        _run(app, "Quiet")  # a queued run is no work for recovery
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert recovery.recover(runtime(app).hooks) == []
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements


@both_databases
def test_the_one_read_sees_every_kind_of_recovery(app, monkeypatch):
    hooks = runtime(app).hooks
    taken = []
    monkeypatch.setattr(hooks, "take_stale", lambda: taken.append(1))
    past = utcnow() - timedelta(minutes=1)
    with app.app_context():
        expired = _run(app, "Expired")
        claims.claim("gone:1:beef", 0)  # its process died: the lease has already run out
        assert recovery.recover(hooks) == [expired]
        assert db.session.query(Result).filter_by(run_id=expired, status="queued").count() == 2

        _set(Run, Run.id == expired, deadline=past)  # past its budget: its queued tests are skipped, it ends
        assert recovery.recover(hooks) == [expired]
        assert db.session.get(Run, expired, populate_existing=True).status == "completed"

        stranded = _run(app, "Stranded")
        _set(Result, Result.run_id == stranded, status="passed")  # nothing left, and nobody ended it
        assert recovery.recover(hooks) == [stranded]
        assert db.session.get(Run, stranded, populate_existing=True).status == "completed"

        crawling = _run(app, "Crawling", crawl=True)
        crawls.claim("gone:2:beef", lease_seconds=30)
        _set(Crawl, Crawl.run_id == crawling, lease_until=past)  # its crawl's process died
        assert recovery.recover(hooks) == [crawling]
        assert db.session.query(Crawl).filter_by(run_id=crawling).one().status == "queued"

        _set(Run, Run.id == crawling, status="failed")  # its run ended some other way: the crawl never runs
        recovery.recover(hooks)
        assert db.session.query(Crawl).filter_by(run_id=crawling).one().status == "aborted"

        assert not taken
        _set(
            Run, Run.id == stranded, notify_state="pending", finished_at=past
        )  # its process died before firing
        recovery.recover(hooks)
        assert taken


@both_databases
def test_the_one_read_also_says_when_an_alert_or_a_schedule_is_due(app, monkeypatch):
    """The heartbeat sends due alerts and starts due schedules only when that read says so: an idle process
    does not ask the outbox and the schedules on their own every two seconds."""
    hooks = runtime(app).hooks
    pumped, fired = [], []
    monkeypatch.setattr(hooks.notifications, "pump", lambda now=None: pumped.append(now))
    with app.app_context():
        run_id = _run(app, "Alerting")
        project_id = db.session.get(Run, run_id).project_id
        later = utcnow() + timedelta(hours=1)
        with write():
            channel = NotificationChannel(
                project_id=project_id,
                name="hook",
                kind="webhook",
                target="sealed",
                target_hint="https://hooks.example/…",
                events=["failed"],
            )
            schedule = Schedule(project_id=project_id, name="nightly", cron="0 2 * * *", next_run_at=later)
            db.session.add_all([channel, schedule])
            db.session.flush()
            db.session.add(
                NotificationDelivery(
                    run_id=run_id,
                    channel_id=channel.id,
                    event="failed",
                    state="retrying",
                    next_attempt_at=later,
                )
            )
        recovery.recover(hooks, schedules_due=lambda: fired.append(1))
        assert (pumped, fired) == ([], [])  # both wait an hour

        past = utcnow() - timedelta(seconds=1)
        _set(NotificationDelivery, NotificationDelivery.run_id == run_id, next_attempt_at=past)
        recovery.recover(hooks, schedules_due=lambda: fired.append(1))
        assert (len(pumped), fired) == (1, [])

        _set(Schedule, Schedule.project_id == project_id, next_run_at=past)
        recovery.recover(hooks, schedules_due=lambda: fired.append(1))
        assert (len(pumped), fired) == (2, [1])
