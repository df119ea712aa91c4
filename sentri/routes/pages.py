"""HTML pages: log in / log out, the project list and a run's page (the `pages` blueprint is in
pages_common.py; the project tabs, the users page and the account page add their views there too)."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import origins, projects, runs, ui, users
from ..auth import current_user, log_in, log_out
from ..errors import Conflict, SentriError
from ..extensions import csrf, db, limiter
from ..models import Result, TestCase
from ..review import views
from ..runs import crawls, stats
from ..validation import parse
from .pages_common import LogoutForm, bp, field_errors, login_required, page_of


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _login_limit() -> str:
    return current_app.config["SENTRI_LOGIN_RATE_LIMIT"]


def safe_next(target: str | None) -> str:
    """Return `next` when it is a path on this site as a browser would read it, else the projects page.

    An open redirect after login is a phishing aid. Browsers drop tabs and newlines from a URL and read
    a backslash as a slash, so "/\t/evil.example" and "/\\evil.example" both mean //evil.example: the
    target is judged in that form, and control characters (which cannot go in a Location header) or a
    scheme or host of any kind send the user to the projects page instead."""
    fallback = url_for("pages.project_list")
    if not target or len(target) > 2048:
        return fallback
    seen = origins.browser_form(target).replace("\\", "/")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or not seen.startswith("/") or seen.startswith("//"):
        return fallback
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return fallback
    return seen


@bp.get("/")
def index():
    if current_user() is None:
        return redirect(url_for("pages.login"))
    return redirect(url_for("pages.project_list"))


@bp.route("/login", methods=["GET", "POST"])
# Flask-Limiter checks a decorated limit when the view runs, after every before-request hook; the
# form checks its own CSRF token instead of the global hook so that a throttled client gets 429.
@csrf.exempt
@limiter.shared_limit(_login_limit, scope="login", methods=["POST"])
def login():
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        user = users.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            log_in(user)
            return redirect(safe_next(request.args.get("next")))
        error, status = "Wrong email or password.", 401
    elif request.method == "POST" and "csrf_token" in form.errors:
        error, status = "Your session expired; reload the page and log in again.", 400
    elif request.method == "POST":
        error, status = "Enter your email and password.", 400
    return render_template("pages/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        log_out()
    return redirect(url_for("pages.login"))


def _project_list(errors: dict | None = None, values: dict | None = None, status: int = 200):
    number, offset = page_of()
    items, total = projects.list_all(offset=offset, limit=ui.PER_PAGE)
    recent = stats.recent_pass_rates([p.id for p in items])
    sparks = {}
    for project in items:
        history = recent.get(project.id, [])
        rates = [ui.pass_rate(r.passed, r.failed) for r in history]
        sparks[project.id] = ui.line_chart(
            rates, [r.public_id for r in history], width=120, height=28, y_max=100, label="pass rate"
        )
    return (
        render_template(
            "pages/projects.html",
            projects=items,
            page=ui.Page(number, ui.PER_PAGE, total),
            last_runs=stats.last_runs([p.id for p in items]),
            sparks=sparks,
            errors=errors or {},
            values=values or {},
        ),
        status,
    )


@bp.get("/projects")
@login_required
def project_list(user):
    return _project_list()


@bp.post("/projects")
@login_required
def project_create(user):
    values = {"name": request.form.get("name", ""), "baseUrl": request.form.get("baseUrl", "")}
    try:
        body = parse(projects.NewProject, values)
        project = projects.create(body.name, body.base_url)
    except SentriError as exc:
        return _project_list(field_errors(exc), values, exc.status)
    flash(f"Project {project.public_id} created.", "success")
    return redirect(url_for("pages.project_tests", project_id=project.public_id))


# -- runs -------------------------------------------------------------------------------------------


RESULTS_PER_PAGE = 100


def _run_image(run_public_id: str, sha: str) -> str:
    return url_for("api_review.run_image", run_id=run_public_id, sha=sha)


def _run_context(run) -> dict:
    """Everything a page of the run report needs: every planned test (queued and running ones too), with
    its test's steps, vitals cells and screenshot."""
    project = run.project
    number = ui.page_number(request.args.get("page"))
    # Only the shown page becomes ORM objects: a run of 500 tests would otherwise load every result.
    tally = db.session.execute(select(Result.status, Result.skip_reason, func.count(Result.id))
                               .where(Result.run_id == run.id).group_by(Result.status, Result.skip_reason)).all()
    counts = {status: sum(n for s, _, n in tally if s == status) for status, _, _ in tally}
    done = sum(n for status, n in counts.items() if status not in ("queued", "running"))
    ran = counts.get("passed", 0) + counts.get("failed", 0)  # quarantined ones too: they ran
    skipped = {reason: n for status, reason, n in tally if status == "skipped"}
    page = ui.Page(number, RESULTS_PER_PAGE, sum(counts.values()))
    shown = list(db.session.scalars(
        select(Result).where(Result.run_id == run.id).order_by(Result.position)
        .offset(page.offset).limit(RESULTS_PER_PAGE)
    ))
    ids = [r.test_id for r in shown if r.test_id]
    tests = {t.id: t for t in db.session.query(TestCase).filter(TestCase.id.in_(ids))} if ids else {}
    budgets = project.vitals_budgets or {}
    rows = []
    for result in shown:
        pages = [
            {"url": page_row.get("url"), "cells": {
                m: ui.vital_cell(m, page_row.get(m), budgets, (page_row.get("samples") or {}).get(m))
                for m in ui.METRICS}}
            for page_row in (result.vitals or [])
        ]
        screenshot = (
            url_for("api_runs.screenshot", run_id=run.public_id, position=result.position)
            if result.screenshot
            else None
        )
        image = partial(_run_image, run.public_id)
        rows.append({"result": result, "test": tests.get(result.test_id), "pages": pages, "screenshot": screenshot,
                     # Screenshot steps worth a look (not those that matched), and healed targets.
                     "visual": [s for s in views.snapshots(result.snapshots, image) if s["status"] != "matched"],
                     "healed": views.healed(result.healed)})
    return {"run": run, "project": project, "rows": rows, "verdict": runs.verdict(run),
            "shown_verdict": runs.shown_verdict(run), "done": done, "ran": ran, "not_run": ui.not_run(skipped),
            "budgets": budgets, "page": page}


@bp.get("/runs/<run_id>")
@login_required
def run_page(run_id, user):
    run = runs.get(run_id)
    return render_template("pages/run.html", crawl=crawls.for_run(run), **_run_context(run))


@bp.get("/runs/<run_id>/report")
@login_required
def run_report(run_id, user):
    """The results part of the run page alone: the live page swaps it in as tests finish."""
    run = runs.get(run_id)
    response = current_app.make_response(render_template("partials/run_report.html", **_run_context(run)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/runs/<run_id>/abort")
@login_required
def run_abort(run_id, user):
    run = runs.get(run_id)
    try:
        runs.abort(run)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("pages.run_page", run_id=run.public_id))
    db.session.commit()
    flash(f"Run {run.public_id} aborted: its running tests stop within seconds.", "success")
    return redirect(url_for("pages.run_page", run_id=run.public_id))
