"""Tests of a project: create, import, edit, review (approve / reject) and delete."""

from __future__ import annotations

from sqlalchemy import func, select

from . import testfiles, testformat
from .database import write
from .errors import ValidationFailed
from .extensions import db
from .models import REVIEW_STATUSES, Project, TestCase, User, isoformat, utcnow
from .policies import quarantine
from .public_ids import get_or_404
from .users import require_admin

EDITABLE_FIELDS = ("name", "tags", "steps", "viewport", "covers")


def _format_error(exc: testformat.TestFormatError) -> ValidationFailed:
    return ValidationFailed("; ".join(exc.problems) if exc.problems else str(exc))


def _new(project: Project, canonical: dict, review_status: str, actor: User | None) -> TestCase:
    now = utcnow()
    return TestCase(
        project_id=project.id,
        name=canonical["name"],
        tags=canonical.get("tags", []),
        steps=canonical["steps"],
        viewport=canonical.get("viewport"),
        covers=canonical.get("covers"),
        review_status=review_status,
        reviewed_by_id=actor.id if actor and review_status != "draft" else None,
        reviewed_at=now if review_status != "draft" else None,
        created_at=now,
        updated_at=now,
    )


def create(project: Project, document: dict, *, actor: User | None = None) -> TestCase:
    """Validate one test document and store it as a draft."""
    try:
        canonical = testformat.validate_test(document, label="test")
    except testformat.TestFormatError as exc:
        raise _format_error(exc) from None
    test = _new(project, canonical, "draft", actor)
    with write():
        db.session.add(test)
    return test


def import_file(
    project: Project,
    text: str,
    filename: str | None = None,
    *,
    approve: bool = False,
    skip_unsupported: bool = False,
    actor: User | None = None,
) -> tuple[list[TestCase], list[str]]:
    """Import every test of a native or Recorder file, all or nothing; return them and any warnings."""
    try:
        documents, warnings = testfiles.load_tests(text, filename, skip_unsupported=skip_unsupported)
    except testformat.TestFormatError as exc:
        raise _format_error(exc) from None
    if not documents:
        raise ValidationFailed("The file holds no tests.")
    status = "approved" if approve else "draft"
    tests = [_new(project, doc, status, actor) for doc in documents]
    with write():
        db.session.add_all(tests)
    return tests, warnings


def get(project: Project, public_id: str) -> TestCase:
    """Return the project's test with this id or raise 404."""
    return get_or_404(TestCase, public_id, project=project)


def list_for(
    project: Project,
    *,
    status: str | None = None,
    tag: str | None = None,
    name: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[TestCase], int]:
    """Return a page of the project's tests, filtered by review status, tag and a part of the name (any
    case), and the total."""
    if status is not None and status not in REVIEW_STATUSES:
        raise ValidationFailed.on("status", f"must be one of {', '.join(REVIEW_STATUSES)}")
    query = select(TestCase).where(TestCase.project_id == project.id)
    if status:
        query = query.where(TestCase.review_status == status)
    if name:
        query = query.where(
            func.lower(TestCase.name).contains(name.lower(), autoescape=True)
        )  # % and _ literal
    # The review queue groups a crawl's drafts by the page they came from (others first, by id).
    query = (
        query.order_by(TestCase.source_page.is_not(None), TestCase.source_page, TestCase.id)
        if status == "draft"
        else query.order_by(TestCase.id)
    )
    if tag:
        # Tags live in a JSON list; filtering in Python keeps one query for SQLite and PostgreSQL.
        tests = [t for t in db.session.scalars(query) if tag in (t.tags or [])]
        end = None if limit is None else offset + limit
        return tests[offset:end], len(tests)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query.offset(offset))), total


def update(test: TestCase, changes: dict, *, actor: User | None = None) -> TestCase:
    """Edit a test's fields; a change of its steps sends it back to review as a draft."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"{', '.join(unknown)}: unknown field (editable: {', '.join(EDITABLE_FIELDS)})"
        )
    current = {
        "name": test.name,
        "tags": test.tags,
        "steps": test.steps,
        **({"viewport": test.viewport} if test.viewport else {}),
        **({"covers": test.covers} if test.covers else {}),
    }
    merged = {**current, **dict(changes.items())}
    merged = {k: v for k, v in merged.items() if v is not None or k in ("name", "steps")}
    try:
        canonical = testformat.validate_test(merged, label="test")
    except testformat.TestFormatError as exc:
        raise _format_error(exc) from None
    with write():
        steps_changed = "steps" in changes and canonical["steps"] != test.steps
        test.name = canonical["name"]
        test.tags = canonical.get("tags", [])
        test.steps = canonical["steps"]
        test.viewport = canonical.get("viewport")
        test.covers = canonical.get("covers")
        test.updated_at = utcnow()
        if steps_changed:
            test.review_status = "draft"
            test.reviewed_by_id = None
            test.reviewed_at = None
    return test


def review(test: TestCase, decision: str, *, actor: User | None = None) -> TestCase:
    """Approve or reject a test."""
    with write():
        mark_reviewed(test, decision, actor)
    return test


def mark_reviewed(test: TestCase, decision: str, actor: User | None) -> None:
    """Set a test's review decision inside the caller's transaction (the review queue decides in bulk)."""
    test.review_status = {"approve": "approved", "reject": "rejected"}[decision]
    test.reviewed_by_id = actor.id if actor else None
    test.reviewed_at = utcnow()


def delete_test(test: TestCase, *, actor: User | None = None) -> None:
    """Delete a test (its past results keep its name); only an admin (or the CLI, actor=None) may."""
    require_admin(actor)
    with write():
        db.session.delete(test)


def serialize(test: TestCase) -> dict:
    """Return the API form of a test: the canonical test document plus its review fields."""
    body = {
        "id": test.public_id,
        "projectId": Project.format_id(test.project_id),
        "name": test.name,
        "tags": test.tags or [],
        "steps": test.steps,
        "reviewStatus": test.review_status,
        "createdAt": isoformat(test.created_at),
        "updatedAt": isoformat(test.updated_at),
        "reviewedAt": isoformat(test.reviewed_at),
        "flakyScore": round(test.flaky_score or 0.0, 4),
        "healCount": test.heal_count or 0,  # results in which one of its targets healed
        "quarantine": quarantine.describe(test, quarantined_and_suggested(test)),
    }
    if test.viewport:
        body["viewport"] = test.viewport
    if test.covers:
        body["covers"] = test.covers
    if test.source_page:
        body["sourcePage"] = test.source_page  # a draft made by a crawl: the page it came from
    return body


def quarantined_and_suggested(test: TestCase) -> bool:
    """Tell whether leaving quarantine is suggested for this test (False when it is not quarantined)."""
    return quarantine.is_quarantined(test) and test.id in quarantine.release_suggested(test.project, [test])
