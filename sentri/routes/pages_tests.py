"""Project tabs for tests: the list (filter, import), the review queue, and one test's page
(steps, edit as YAML, history). Views on the `pages` blueprint."""

from __future__ import annotations

import yaml
from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import projects, testcases, testfiles, ui
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import REVIEW_STATUSES, Result, Run, TestCase
from ..policies import quarantine
from ..review import queue
from ..states import ResultStatus
from ..ui import templates_used
from . import api_review
from .pages_common import bp, get_goes_back, login_required, page_of

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
EXECUTED = (
    "passed",
    "failed",
)  # a skipped result (deselected, over budget, aborted) says nothing of its test


def _last_results(test_ids: list[int]) -> dict[int, Result]:
    """Return each test's most recent executed result (one query)."""
    if not test_ids:
        return {}
    latest = (
        select(func.max(Result.id).label("id"))
        .where(Result.test_id.in_(test_ids), Result.status.in_(EXECUTED))
        .group_by(Result.test_id)
        .subquery()
    )
    return {r.test_id: r for r in db.session.scalars(select(Result).join(latest, latest.c.id == Result.id))}


def _tests_tab(project, *, import_errors=None, status=200):
    """The tab; after a refused import, its problems and the form as it was sent (a file input cannot be
    filled again: its name is said)."""
    review = request.args.get("status") or None
    if review not in (None, *REVIEW_STATUSES):
        review = None
    tag = (request.args.get("tag") or "").strip() or None
    name = (request.args.get("q") or "").strip()[:200] or None
    number, offset = page_of()
    items, total = testcases.list_for(
        project, status=review, tag=tag, name=name, offset=offset, limit=ui.PER_PAGE
    )
    return (
        render_template(
            "pages/project_tests.html",
            project=project,
            tests=items,
            tab="tests",
            page=ui.Page(number, ui.PER_PAGE, total),
            last=_last_results([t.id for t in items]),
            status_filter=review,
            tag_filter=tag,
            name_filter=name,
            statuses=REVIEW_STATUSES,
            import_errors=import_errors or [],
            import_name=getattr(request.files.get("file"), "filename", None) if import_errors else None,
            skip_unsupported=bool(request.form.get("skipUnsupported")),
        ),
        status,
    )


@bp.get("/projects/<project_id>/tests")
@login_required
def project_tests(project_id, user):
    return _tests_tab(projects.get(project_id))


@bp.post("/projects/<project_id>/tests/import")
@login_required
def tests_import(project_id, user):
    project = projects.get(project_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _tests_tab(project, import_errors=["Choose a file to import."], status=400)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _tests_tab(project, import_errors=["The file is larger than 2 MB."], status=400)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _tests_tab(project, import_errors=["The file is not UTF-8 text."], status=400)
    try:
        imported, warnings = testcases.import_file(
            project,
            text,
            upload.filename,
            skip_unsupported=bool(request.form.get("skipUnsupported")),
            actor=user,
        )
    except ValidationFailed as exc:
        return _tests_tab(project, import_errors=exc.message.split("; "), status=400)
    flash(f"Imported {len(imported)} test(s) as drafts: approve them in the review queue.", "success")
    for warning in warnings:
        flash(warning, "warning")
    return redirect(url_for("pages.project_review", project_id=project.public_id))


# -- review queue -----------------------------------------------------------------------------------


def _queue_page(project, offset: int):
    """One page of the queue as it is shown: pending screenshots, heals, then a page of draft tests."""
    items, total = testcases.list_for(project, status="draft", offset=offset, limit=ui.PER_PAGE)
    baselines, heals = queue.pending(project)
    return baselines, heals, items, total


def _order(baselines, heals, items) -> list[str]:
    return [row.public_id for row in (*baselines, *heals, *items)]


def _heal_row(project, row) -> dict:
    """A heal as the queue shows it: the target it replaced as it ran (templates filled) and as written."""
    shown = queue.serialize_heal(row)
    values, secrets = templates_used.run_values(
        project, db.session.get(Run, row.run_id) if row.run_id else None
    )
    shown["fromUsed"] = templates_used.filled(row.old_target, values, secrets)
    return shown


@bp.get("/projects/<project_id>/review")
@login_required
def project_review(project_id, user):
    """One queue: draft tests (paged), pending screenshot baselines and heal proposals."""
    project = projects.get(project_id)
    number, offset = page_of()
    baselines, heals, items, total = _queue_page(project, offset)
    image = api_review.baseline_image_url(project.public_id)
    return render_template(
        "pages/review.html",
        project=project,
        tests=items,
        tab="review",
        page=ui.Page(number, ui.PER_PAGE, total),
        baselines=[
            queue.serialize_baseline(row, image, api_review.crop_image_url(project.public_id))
            for row in baselines
        ],
        heals=[_heal_row(project, row) for row in heals],
        queue_tests={
            t.public_id: t
            for t in db.session.scalars(
                select(TestCase).where(
                    TestCase.id.in_({row.test_id for row in heals} | {row.test_id for row in baselines})
                )
            )
        },
    )


@bp.post("/projects/<project_id>/review")
@login_required
def review_submit(project_id, user):
    """Decide one item (decision=approve:BSL-n) or every ticked one (bulk): tests, baselines, heals."""
    project = projects.get(project_id)
    decision, _, one = request.form.get("decision", "").partition(":")
    if decision not in ("approve", "reject"):
        raise ValidationFailed.on("decision", "must be approve or reject")
    ids = [one] if one else request.form.getlist("items") + request.form.getlist("tests")
    number, offset = page_of()
    before = _order(*_queue_page(project, offset)[:3])
    if not ids:
        flash("Tick at least one item.", "error")
    else:
        try:  # the API's rules: at most MAX_BULK ids, each once, all or nothing
            queue.decide_all(project, queue.parse_bulk({decision: ids}), user)
        except (Conflict, ValidationFailed) as exc:
            flash(exc.message, "error")
        else:
            verb = "Approved" if decision == "approve" else "Rejected"
            flash(f"{verb} {', '.join(ids)}.", "success")
    target = request.form.get("next")
    if target == "test" and one:
        return redirect(url_for("pages.test_page", project_id=project.public_id, test_id=one))
    return redirect(_next_item(project, number, before, ids))


def _next_item(project, number: int, before: list[str], decided: list[str]) -> str:
    """Where a reviewer goes on after a decision: the item that followed the first one decided, on the
    same page of the queue (the one that took its place when nothing followed), else the queue's top."""
    baselines, heals, items, total = _queue_page(project, (number - 1) * ui.PER_PAGE)
    if not items and number > 1 and total:  # the last page emptied: its previous one
        number -= 1
        baselines, heals, items, total = _queue_page(project, (number - 1) * ui.PER_PAGE)
    left = _order(baselines, heals, items)
    position = min((before.index(i) for i in decided if i in before), default=0)
    following = [i for i in before[position:] if i in left] or [
        i for i in reversed(before[:position]) if i in left
    ]
    address = url_for(
        "pages.project_review", project_id=project.public_id, page=number if number > 1 else None
    )
    return address + (f"#{following[0]}" if following else "")


# -- one test ---------------------------------------------------------------------------------------


def _as_yaml(test) -> str:
    document = {"name": test.name, "tags": test.tags or [], "steps": test.steps}
    if test.viewport:
        document["viewport"] = test.viewport
    if test.covers:
        document["covers"] = test.covers
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def _test_page(project, test, *, source=None, errors=None, status=200, quarantine_error=None):
    number, offset = page_of()
    # The runs that ran it (or are about to): one that left it out says nothing of it, and is counted apart.
    query = (
        select(Result, Run)
        .join(Run, Run.id == Result.run_id)
        .where(Result.test_id == test.id, Result.status != ResultStatus.SKIPPED)
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    left_out = (
        db.session.scalar(
            select(func.count(Result.id)).where(
                Result.test_id == test.id, Result.status == ResultStatus.SKIPPED
            )
        )
        or 0
    )
    history = db.session.execute(query.order_by(Result.id.desc()).offset(offset).limit(ui.PER_PAGE)).all()
    return (
        render_template(
            "pages/test.html",
            project=project,
            test=test,
            tab="tests",
            source=source or _as_yaml(test),
            errors=errors or [],
            history=history,
            left_out=left_out,
            page=ui.Page(number, ui.PER_PAGE, total),
            quarantine=quarantine.describe(test, testcases.quarantined_and_suggested(test)),
            quarantine_error=quarantine_error,
        ),
        status,
    )


@bp.get("/projects/<project_id>/tests/<test_id>")
@login_required
def test_page(project_id, test_id, user):
    project = projects.get(project_id)
    return _test_page(project, testcases.get(project, test_id))


@bp.post("/projects/<project_id>/tests/<test_id>")
@login_required
def test_save(project_id, test_id, user):
    project = projects.get(project_id)
    test = testcases.get(project, test_id)
    source = request.form.get("source", "")
    try:
        document = testfiles.load_yaml(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        return _test_page(project, test, source=source, errors=[f"{where}invalid YAML: {exc}"], status=400)
    if not isinstance(document, dict):
        return _test_page(
            project, test, source=source, errors=["The test must be a mapping (name:, steps:)."], status=400
        )
    changes = {
        k: document.get(k) for k in testcases.EDITABLE_FIELDS if k in document or k in ("viewport", "covers")
    }
    try:
        testcases.update(test, changes, actor=user)
    except ValidationFailed as exc:
        return _test_page(project, test, source=source, errors=exc.message.split("; "), status=400)
    flash(
        f"{test.public_id} saved" + (" and sent back to review." if test.review_status == "draft" else "."),
        "success",
    )
    return redirect(url_for("pages.test_page", project_id=project.public_id, test_id=test.public_id))


@bp.post("/projects/<project_id>/tests/<test_id>/quarantine")
@login_required
def test_quarantine(project_id, test_id, user):
    project = projects.get(project_id)
    test = testcases.get(project, test_id)
    try:
        if request.form.get("action") == "release":
            quarantine.leave(test, actor=user)
            flash(f"{test.public_id} left quarantine: its outcomes count again from the next run.", "success")
        else:
            quarantine.enter(test, {"reason": request.form.get("reason", "")}, actor=user)
            flash(
                f"{test.public_id} quarantined: it still runs, but no longer counts toward the verdict.",
                "success",
            )
    except (ValidationFailed, Conflict) as exc:
        return _test_page(project, test, quarantine_error=exc.message, status=exc.status)
    return redirect(url_for("pages.test_page", project_id=project.public_id, test_id=test.public_id))


@bp.post("/projects/<project_id>/tests/<test_id>/delete")
@login_required
def test_delete(project_id, test_id, user):
    project = projects.get(project_id)
    try:
        test = testcases.get(project, test_id)
    except NotFound:
        return redirect(url_for("pages.project_tests", project_id=project.public_id))
    testcases.delete_test(test, actor=user)
    flash(f"{test_id} deleted.", "success")
    return redirect(url_for("pages.project_tests", project_id=project.public_id))


get_goes_back("/projects/<project_id>/tests/import", "pages.project_tests", "import")
get_goes_back(
    "/projects/<project_id>/tests/<test_id>/quarantine",
    "pages.test_page",
    "quarantine",
    keep=("project_id", "test_id"),
)
get_goes_back(
    "/projects/<project_id>/tests/<test_id>/delete", "pages.test_page", keep=("project_id", "test_id")
)
