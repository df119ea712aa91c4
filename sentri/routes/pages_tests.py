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
from ..review import queue
from ..runs import quarantine
from . import api_review
from .pages_common import bp, login_required, page_of

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
EXECUTED = ("passed", "failed")  # a skipped result (deselected, over budget, aborted) says nothing of its test


def _last_results(test_ids: list[int]) -> dict[int, Result]:
    """Return each test's most recent executed result (one query)."""
    if not test_ids:
        return {}
    latest = (
        select(func.max(Result.id).label("id")).where(Result.test_id.in_(test_ids), Result.status.in_(EXECUTED))
        .group_by(Result.test_id).subquery()
    )
    return {r.test_id: r for r in db.session.scalars(select(Result).join(latest, latest.c.id == Result.id))}


def _tests_tab(project, *, import_errors=None, status=200):
    review = request.args.get("status") or None
    if review not in (None, *REVIEW_STATUSES):
        review = None
    tag = (request.args.get("tag") or "").strip() or None
    number, offset = page_of()
    items, total = testcases.list_for(project, status=review, tag=tag, offset=offset, limit=ui.PER_PAGE)
    return (
        render_template(
            "pages/project_tests.html", project=project, tests=items, tab="tests",
            page=ui.Page(number, ui.PER_PAGE, total), last=_last_results([t.id for t in items]),
            status_filter=review, tag_filter=tag, statuses=REVIEW_STATUSES, import_errors=import_errors or [],
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
            project, text, upload.filename, skip_unsupported=bool(request.form.get("skipUnsupported")), actor=user
        )
    except ValidationFailed as exc:
        return _tests_tab(project, import_errors=exc.message.split("; "), status=400)
    flash(f"Imported {len(imported)} test(s) as drafts: approve them in the review queue.", "success")
    for warning in warnings:
        flash(warning, "warning")
    return redirect(url_for("pages.project_review", project_id=project.public_id))


# -- review queue -----------------------------------------------------------------------------------


@bp.get("/projects/<project_id>/review")
@login_required
def project_review(project_id, user):
    """One queue: draft tests (paged), pending screenshot baselines and heal proposals."""
    project = projects.get(project_id)
    number, offset = page_of()
    items, total = testcases.list_for(project, status="draft", offset=offset, limit=ui.PER_PAGE)
    baselines, heals = queue.pending(project)
    image = api_review.baseline_image_url(project.public_id)
    return render_template(
        "pages/review.html", project=project, tests=items, tab="review", page=ui.Page(number, ui.PER_PAGE, total),
        baselines=[queue.serialize_baseline(row, image) for row in baselines],
        heals=[queue.serialize_heal(row) for row in heals],
        queue_tests={t.public_id: t for t in db.session.scalars(select(TestCase).where(
            TestCase.id.in_({row.test_id for row in heals} | {row.test_id for row in baselines})))},
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
    return redirect(url_for("pages.project_review", project_id=project.public_id))


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
    query = (select(Result, Run).join(Run, Run.id == Result.run_id)
             .where(Result.test_id == test.id, Result.status != "skipped"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    left_out = db.session.scalar(select(func.count(Result.id)).where(Result.test_id == test.id,
                                                                     Result.status == "skipped")) or 0
    history = db.session.execute(query.order_by(Result.id.desc()).offset(offset).limit(ui.PER_PAGE)).all()
    return (
        render_template(
            "pages/test.html", project=project, test=test, tab="tests", source=source or _as_yaml(test),
            errors=errors or [], history=history, left_out=left_out, page=ui.Page(number, ui.PER_PAGE, total),
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
        return _test_page(project, test, source=source, errors=["The test must be a mapping (name:, steps:)."],
                          status=400)
    changes = {k: document.get(k) for k in testcases.EDITABLE_FIELDS if k in document or k in ("viewport", "covers")}
    try:
        testcases.update(test, changes, actor=user)
    except ValidationFailed as exc:
        return _test_page(project, test, source=source, errors=exc.message.split("; "), status=400)
    flash(f"{test.public_id} saved" + (" and sent back to review." if test.review_status == "draft" else "."),
          "success")
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
            flash(f"{test.public_id} quarantined: it still runs, but no longer counts toward the verdict.", "success")
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
