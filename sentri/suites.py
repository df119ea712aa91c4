"""Suites: create, list, rename, delete, and add or remove a project's tests."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select

from .database import write
from .errors import ValidationFailed
from .extensions import db
from .models import Project, Suite, TestCase, User, isoformat
from .public_ids import get_or_404
from .users import require_admin
from .validation import Body, Name


class NewSuite(Body):
    name: Name
    test_ids: list[str] = Field(default_factory=list, alias="testIds")


class SuiteName(Body):
    name: Name


class SuiteTests(Body):
    test_ids: list[str] = Field(alias="testIds", min_length=1)


def tests_of(project: Project, test_ids: list[str], field: str = "testIds") -> list[TestCase]:
    """Return the project's tests with these public ids, or a 400 naming the unknown ones."""
    keys = {t: TestCase.key_of(t) for t in test_ids}
    found = {
        t.id: t
        for t in db.session.scalars(
            select(TestCase).where(
                TestCase.project_id == project.id, TestCase.id.in_([k for k in keys.values() if k])
            )
        )
    }
    unknown = [t for t, key in keys.items() if key not in found]
    if unknown:
        raise ValidationFailed.on(field, f"not tests of {project.public_id}: {', '.join(unknown)}")
    return [found[key] for t in dict.fromkeys(test_ids) if (key := keys[t]) is not None]  # each is known


def create(project: Project, name: str, test_ids: list[str] | None = None) -> Suite:
    """Create a suite (its name one a NewSuite has checked), optionally with tests."""
    tests = tests_of(project, test_ids or [])
    suite = Suite(project_id=project.id, name=name)
    with write():
        db.session.add(suite)
        suite.tests.extend(tests)
    return suite


def get(project: Project, public_id: str) -> Suite:
    """Return the project's suite with this id or raise 404."""
    return get_or_404(Suite, public_id, project=project)


def list_for(project: Project) -> list[Suite]:
    """Return the project's suites."""
    return list(db.session.scalars(select(Suite).where(Suite.project_id == project.id).order_by(Suite.id)))


def rename(suite: Suite, name: str) -> Suite:
    with write():
        suite.name = name
    return suite


def add_tests(project: Project, suite: Suite, test_ids: list[str]) -> Suite:
    """Add tests to a suite (already present ones are left as they are)."""
    tests = tests_of(project, test_ids)
    with write():
        present = {t.id for t in suite.tests}
        suite.tests.extend(t for t in tests if t.id not in present)
    return suite


def remove_tests(project: Project, suite: Suite, test_ids: list[str]) -> Suite:
    """Remove tests from a suite."""
    gone = {t.id for t in tests_of(project, test_ids)}
    with write():
        suite.tests[:] = [t for t in suite.tests if t.id not in gone]
    return suite


def delete_suite(suite: Suite, *, actor: User | None = None) -> None:
    """Delete a suite (its tests stay); only an admin (or the CLI, actor=None) may."""
    require_admin(actor)
    with write():
        db.session.delete(suite)


def serialize(suite: Suite) -> dict:
    return {
        "id": suite.public_id,
        "projectId": Project.format_id(suite.project_id),
        "name": suite.name,
        "testIds": [t.public_id for t in suite.tests],
        "createdAt": isoformat(suite.created_at),
    }
