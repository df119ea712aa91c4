"""HTML pages: log in / log out and the project list (the rest of the UI builds on these)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import projects, runs, users
from ..auth import current_user, log_in, log_out
from ..extensions import csrf, limiter

bp = Blueprint("pages", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    """Only a CSRF token: logging out is a state change too."""


def _login_limit() -> str:
    return current_app.config["SENTRI_LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.project_list")


@bp.context_processor
def _inject_user():
    return {"user": current_user(), "logout_form": LogoutForm()}


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
            return redirect(_safe_next(request.args.get("next")))
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


@bp.get("/projects")
def project_list():
    if current_user() is None:
        return redirect(url_for("pages.login", next=request.path))
    items, _total = projects.list_all()
    return render_template("pages/projects.html", projects=items)


@bp.get("/runs/<run_id>")
def run_page(run_id):
    if current_user() is None:
        return redirect(url_for("pages.login", next=request.path))
    run = runs.get(run_id)
    return render_template("pages/run.html", run=run, verdict=runs.verdict(run))
