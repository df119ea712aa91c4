"""Project tab Crawls: ask for a crawl (its drafts go to the review queue), the list of crawls, and one
crawl's page: live progress, the site map with each page's status and vitals colour, the diff from the
previous crawl and the drafts it made. Views on the `pages` blueprint."""

from __future__ import annotations

import re

from flask import redirect, render_template, request, url_for

from .. import projects
from ..crawl.report import serialize, site_map
from ..crawl.settings import MAX_DEPTH, MAX_PAGES, MAX_TEST_COUNT, CrawlRequest
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import TestCase
from ..queue import crawls
from ..runtime import runtime
from ..validation import parse
from .pages_common import bp, field_errors, login_required


def _tab(project, *, errors: dict | None = None, status: int = 200):
    """The tab; after a refused crawl, the form as it was sent (`sent`) beside its errors."""
    sent = request.form if errors else None
    return render_template(
        "pages/crawls.html",
        project=project,
        crawls=crawls.list_for(project),
        serialize=serialize,
        errors=errors or {},
        sent=sent,
        ranges=RANGES,
        tab="crawls",
    ), status


@bp.get("/projects/<project_id>/crawls")
@login_required
def project_crawls(project_id, user):
    return _tab(projects.get(project_id))


# The API clamps these into range; a person who typed -2 is told the range instead.
RANGES = {"maxPages": (1, MAX_PAGES), "maxDepth": (0, MAX_DEPTH), "testCount": (1, MAX_TEST_COUNT)}


def _form_body() -> dict:
    """The Crawl form's fields as the API's body (checkboxes absent = false)."""
    body: dict = {"respectRobots": "respectRobots" in request.form, "fillForms": "fillForms" in request.form}
    problems: list[tuple[str | None, str]] = []
    for name, (low, high) in RANGES.items():
        raw = (request.form.get(name) or "").strip()
        if not raw:
            continue
        if re.fullmatch(r"[+-]?\d+", raw) and low <= int(raw) <= high:
            body[name] = int(raw)
        else:
            problems.append((name, f"must be a whole number from {low} to {high}"))
    if problems:
        raise ValidationFailed.on_each(problems)
    pages = [line.strip() for line in (request.form.get("crawlPages") or "").splitlines() if line.strip()]
    if pages:
        body["crawlPages"] = pages
    perspectives = request.form.getlist("perspectives")
    if perspectives:
        body["perspectives"] = perspectives
    return body


@bp.post("/projects/<project_id>/crawls")
@login_required
def project_crawl_now(project_id, user):
    project = projects.get(project_id)
    try:
        crawl = crawls.request(project, parse(CrawlRequest, _form_body()), triggered_by=user.public_id)
    except Conflict as exc:
        return _tab(project, errors={"": exc.message}, status=409)
    except ValidationFailed as exc:
        return _tab(project, errors=field_errors(exc), status=400)
    runtime().engine.wake()
    return redirect(url_for("pages.crawl_page", project_id=project.public_id, crawl_id=crawl.public_id))


@bp.get("/projects/<project_id>/crawls/<crawl_id>")
@login_required
def crawl_page(project_id, crawl_id, user):
    project = projects.get(project_id)
    crawl = crawls.get(project, crawl_id)
    drafts = [db.session.get(TestCase, key) for key in crawl.drafts or []]
    return render_template(
        "pages/crawl.html",
        project=project,
        crawl=crawl,
        body=serialize(crawl),
        tree=site_map(crawl.pages or []),
        drafts=[t for t in drafts if t is not None],
        tab="crawls",
    )
