"""HTML pages: log in / log out and the project list (the `pages` blueprint is in pages_common.py; a run's
page, the project tabs, the users page and the account page add their views there too)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import origins, projects, ui, users
from ..auth import current_user, log_in, log_out
from ..errors import SentriError
from ..extensions import csrf, limiter
from ..reports import stats
from ..settings import settings
from ..validation import parse
from .pages_common import LogoutForm, bp, field_errors, get_goes_back, login_required, page_of


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _login_limit() -> str:
    return settings().login_rate_limit


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
    if (
        any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
        or not seen.startswith("/")
        or seen.startswith("//")
    ):
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


# Logging out takes a POST (with its CSRF token); a GET of its address goes home, still logged in.
get_goes_back("/logout", "pages.index", keep=())
