"""Projects: create, read, edit and delete (tokens, tests and runs go with it)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, func, select

from . import origins
from .artifacts import remove_run_folders
from .database import write
from .environments import clean_variables
from .errors import ValidationFailed
from .extensions import db
from .models import Project, Run, TestCase, TriggerToken, User, get_or_404, isoformat, utcnow
from .users import require_admin
from .validation import check_http_url


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed.on("name", "must be 1 to 200 characters")
    return name


def _clean_url(url: str) -> str:
    try:
        return check_http_url(url).rstrip("/") or url
    except ValueError as exc:
        raise ValidationFailed.on("baseUrl", f"{exc}") from None


def create(name: str, base_url: str, *, is_demo: bool = False) -> Project:
    """Create a project."""
    project = Project(name=_clean_name(name), base_url=_clean_url(base_url), is_demo=is_demo)
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


_UNCHANGED = object()


def clean_allowed_origins(values: object) -> list[str]:
    """Validate allowedOrigins (exact origins or host globs); raise a 400 naming the bad entry."""
    try:
        return origins.parse_patterns(values)
    except ValueError as exc:
        raise ValidationFailed.on("allowedOrigins", str(exc).removeprefix("allowedOrigins: ")) from None


def update(
    project: Project, *, name: str | None = None, base_url: str | None = None, variables: dict | None = None,
    allowed_origins: list[str] | None | object = _UNCHANGED, actor: User | None = None,
) -> Project:
    """Change a project's name, base URL, default {{NAME}} variables and/or allowed origins (None clears;
    only an admin may change them: they widen where a run may go and type secrets)."""
    if allowed_origins is not _UNCHANGED:
        require_admin(actor)
    if variables is not None:
        variables = clean_variables(variables, "variables")
    if allowed_origins is not _UNCHANGED:
        allowed_origins = clean_allowed_origins(allowed_origins) or None
    with write():
        if allowed_origins is not _UNCHANGED:
            project.allowed_origins = allowed_origins
        if variables is not None:
            project.variables = variables or None
        if name is not None:
            project.name = _clean_name(name)
        if base_url is not None:
            project.base_url = _clean_url(base_url)
        project.updated_at = utcnow()
    return project


def delete_project(project: Project, *, actor: User | None = None) -> None:
    """Delete a project with its tests and runs (and their artifact folders), and hard-delete its
    trigger tokens at once."""
    require_admin(actor)
    run_ids = [Run.format_id(n) for n in db.session.scalars(select(Run.id).where(Run.project_id == project.id))]
    with write():
        # Tokens first and explicitly: they must be gone even where ON DELETE CASCADE is not enforced.
        db.session.execute(delete(TriggerToken).where(TriggerToken.project_id == project.id))
        db.session.delete(project)
    remove_run_folders(current_app.instance_path, run_ids)


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
        "lastRunId": last_run.public_id if last_run else None,
    }
