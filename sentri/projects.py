"""Projects: create, read, edit and delete (tokens, tests and runs go with it)."""

from __future__ import annotations

from typing import Annotated, Any

from flask import current_app
from pydantic import BeforeValidator, Field
from sqlalchemy import delete, func, select

from . import origins
from .artifacts import project_keys, remove_run_files
from .database import write
from .extensions import db
from .models import Project, Run, TestCase, TriggerToken, User, isoformat, utcnow
from .policies import regression
from .public_ids import get_or_404
from .users import require_admin
from .validation import Body, Flag, Name, Variables, WebUrl, problem


def _allowed_origins(values: Any) -> list[str] | None:
    try:
        return origins.parse_patterns(values) or None
    except ValueError as exc:
        raise problem(str(exc).removeprefix("allowedOrigins: ")) from None


class NewProject(Body):
    name: Name
    base_url: WebUrl = Field(alias="baseUrl")


class ProjectChanges(Body):
    """What an edit may change; a field left out (or null, but for allowedOrigins: null clears) stays."""

    name: Name | None = None
    base_url: WebUrl | None = Field(default=None, alias="baseUrl")
    variables: Variables | None = None
    allowed_origins: Annotated[list[str] | None, BeforeValidator(_allowed_origins)] = Field(
        default=None, alias="allowedOrigins"
    )
    # Healing locators: false is strict, a target that matches nothing fails the test.
    heal_locators: Flag | None = Field(default=None, alias="healLocators")


def create(name: str, base_url: str, *, is_demo: bool = False) -> Project:
    """Create a project (from values a NewProject has checked)."""
    project = Project(name=name, base_url=base_url, is_demo=is_demo)
    with write():
        db.session.add(project)
    return project


def get(public_id: str) -> Project:
    """Return the project with this id or raise 404."""
    return get_or_404(Project, public_id)


def list_all(*, offset: int = 0, limit: int | None = None) -> tuple[list[Project], int]:
    """Return a page of projects (oldest first) and the total count."""
    total = db.session.scalar(select(func.count(Project.id))) or 0
    query = select(Project).order_by(Project.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query)), total


def update(project: Project, body: ProjectChanges, *, actor: User | None = None) -> Project:
    """Change a project's name, base URL, default {{NAME}} variables, allowed origins and healing (only an
    admin may change the last two: they widen where a run may go and type secrets, and what passes)."""
    if "allowed_origins" in body.model_fields_set or body.heal_locators is not None:
        require_admin(actor)
    with write():
        if "allowed_origins" in body.model_fields_set:
            project.allowed_origins = body.allowed_origins
        if body.variables is not None:
            project.variables = body.variables or None
        if body.name is not None:
            project.name = body.name
        if body.base_url is not None:
            project.base_url = body.base_url
        if body.heal_locators is not None:
            project.heal_locators = body.heal_locators
        project.updated_at = utcnow()
    return project


def delete_project(project: Project, *, actor: User | None = None) -> None:
    """Delete a project with its tests and runs (and their artifact folders), and hard-delete its
    trigger tokens at once."""
    require_admin(actor)
    run_ids = list(db.session.scalars(select(Run.id).where(Run.project_id == project.id)))
    keys = project_keys(project.id)
    with write():
        # Tokens first and explicitly: they must be gone even where ON DELETE CASCADE is not enforced.
        db.session.execute(delete(TriggerToken).where(TriggerToken.project_id == project.id))
        db.session.delete(project)
    remove_run_files(current_app, keys, [Run.format_id(n) for n in run_ids])


def serialize(project: Project) -> dict:
    """Return the API form of a project."""
    counts = dict(
        db.session.execute(
            select(TestCase.review_status, func.count(TestCase.id))
            .where(TestCase.project_id == project.id)
            .group_by(TestCase.review_status)
        ).all()
    )
    last_run = db.session.scalar(
        select(Run).where(Run.project_id == project.id).order_by(Run.id.desc()).limit(1)
    )
    return {
        "id": project.public_id,
        "name": project.name,
        "baseUrl": project.base_url,
        "demo": project.is_demo,
        "createdAt": isoformat(project.created_at),
        "updatedAt": isoformat(project.updated_at),
        "tests": {status: counts.get(status, 0) for status in ("draft", "approved", "rejected")},
        "variables": project.variables or {},
        "allowedOrigins": project.allowed_origins or [],
        "vitalsRegression": regression.public(project.vitals_regression),
        "quarantinePolicy": project.quarantine_policy,
        "healLocators": project.heal_locators,
        "lastRunId": last_run.public_id if last_run else None,
    }
