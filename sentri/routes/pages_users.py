"""The users page (admins only): list, create, change role, set a password, deactivate. Views on the
`pages` blueprint."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import ui, users
from ..auth import keep_session
from ..errors import SentriError
from ..models import ROLES
from ..validation import parse
from .pages_common import bp, field_errors, get_goes_back, login_required, page_of


def _users_page(user, *, errors=None, values=None, status=200):
    number, offset = page_of()
    items, total = users.list_users(offset=offset, limit=ui.PER_PAGE, actor=user)
    return (
        render_template(
            "pages/users.html",
            users=items,
            page=ui.Page(number, ui.PER_PAGE, total),
            roles=ROLES,
            errors=errors or {},
            values=values or {"role": "member"},
        ),
        status,
    )


@bp.get("/users")
@login_required
def user_list(user):
    users.require_admin(user)
    return _users_page(user)


@bp.post("/users")
@login_required
def user_create(user):
    users.require_admin(user)
    values = {"email": request.form.get("email", ""), "role": request.form.get("role", "member")}
    try:
        body = parse(users.NewUser, {**values, "password": request.form.get("password", "")})
        created = users.create_user(body.email, body.password, role=body.role, actor=user)
    except SentriError as exc:
        errors = field_errors(exc)
        if exc.status == 409:
            errors = {"email": exc.message}
        return _users_page(user, errors=errors, values=values, status=exc.status)
    flash(f"User {created.public_id} ({created.email}) created.", "success")
    return redirect(url_for("pages.user_list"))


@bp.post("/users/<user_id>")
@login_required
def user_change(user_id, user):
    users.require_admin(user)
    target = users.get_user(user_id)
    action = request.form.get("action", "")
    try:
        if action == "role":
            users.set_role(
                target, parse(users.RoleChange, {"role": request.form.get("role", "")}).role, actor=user
            )
            flash(f"{target.email} is now {target.role}.", "success")
        elif action == "password":
            body = parse(users.PasswordReset, {"newPassword": request.form.get("newPassword", "")})
            users.set_password(target, body.new_password, actor=user)
            keep_session(target)
            flash(
                f"Password of {target.email} changed; their sessions and API tokens are logged out.",
                "success",
            )
        elif action in ("deactivate", "activate"):
            users.set_active(target, action == "activate", actor=user)
            flash(f"{target.email} {action}d.", "success")
        else:
            flash("Unknown action.", "error")
    except SentriError as exc:
        flash(exc.message, "error")
    return redirect(url_for("pages.user_list", page=request.args.get("page", 1)))


get_goes_back("/users/<user_id>", "pages.user_list", keep=())
