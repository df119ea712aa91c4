"""The schema on a real database: migrations match the models, the one-active-run lock, id gaps,
SQLite's pragmas and concurrent writers. Runs on PostgreSQL too when SENTRI_TEST_DATABASE_URL is set."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from sentri import projects
from sentri.database import write
from sentri.extensions import db
from sentri.models import Project, Run, TriggerToken
from tests.conftest import both_databases


@both_databases
def test_migrated_schema_matches_the_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "users",
            "projects",
            "tests",
            "trigger_tokens",
            "runs",
            "results",
            "alembic_version",
        } <= tables


@both_databases
def test_the_database_refuses_a_second_active_run_for_a_project(app):
    with app.app_context():
        project = projects.create("P", "http://127.0.0.1:9")
        other = projects.create("Q", "http://127.0.0.1:9")
        db.session.add(Run(project_id=project.id, status="running", trigger_source="cli"))
        db.session.commit()
        db.session.add(Run(project_id=project.id, status="queued", trigger_source="cli"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # Other projects, and finished runs of the same project, are not held by the lock.
        db.session.add(Run(project_id=other.id, status="queued", trigger_source="cli"))
        db.session.add_all(
            Run(project_id=project.id, status=s, trigger_source="cli")
            for s in ("completed", "failed", "aborted")
        )
        db.session.commit()
        active = db.session.scalars(
            select(Run).where(Run.project_id == project.id, Run.status == "running")
        ).one()
        active.status = "completed"
        db.session.commit()
        db.session.add(Run(project_id=project.id, status="queued", trigger_source="cli"))
        db.session.commit()


@both_databases
def test_ids_are_sequential_and_never_reused(app):
    with app.app_context():
        first = projects.create("One", "http://127.0.0.1:9")
        second = projects.create("Two", "http://127.0.0.1:9")
        assert (first.public_id, second.public_id) == ("PRJ-1", "PRJ-2")
        projects.delete_project(second)
        third = projects.create("Three", "http://127.0.0.1:9")
        assert third.public_id == "PRJ-3"


@both_databases
def test_deleting_a_project_removes_its_tokens_tests_and_runs(app):
    from sentri import testcases, tokens

    with app.app_context():
        project = projects.create("P", "http://127.0.0.1:9")
        tokens.create(project, label="ci")
        testcases.create(project, {"name": "t", "steps": [{"goto": "/"}]})
        db.session.add(Run(project_id=project.id, status="completed", trigger_source="cli"))
        db.session.commit()
        projects.delete_project(project)
        assert db.session.scalar(select(TriggerToken)) is None
        assert db.session.scalar(select(Run)) is None
        assert db.session.execute(text("SELECT count(*) FROM tests")).scalar() == 0


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(app):
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


@both_databases
def test_concurrent_read_then_write_transactions_never_fail_with_database_is_locked(app):
    """Each thread reads a row and then writes it back inside write(): with a deferred transaction
    SQLite's later upgrade to a write lock fails at once; BEGIN IMMEDIATE makes writers queue instead.
    (FOR UPDATE is what PostgreSQL needs for the same guarantee; SQLite ignores it.)"""
    with app.app_context():
        project = projects.create("Counter", "http://127.0.0.1:9")
        project_id = project.id
    threads_count, rounds = 8, 5
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def bump():
        try:
            with app.app_context():
                barrier.wait()
                for _ in range(rounds):
                    db.session.get(Project, project_id)  # a read first: the case that used to fail
                    with write():
                        row = db.session.get(
                            Project, project_id, with_for_update=True, populate_existing=True
                        )
                        row.name = str(int(row.name) + 1) if row.name.isdigit() else "1"
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert db.session.get(Project, project_id).name == str(threads_count * rounds)
