"""The account page: a user changes their own password. Views on the `pages` blueprint."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from .. import users
from ..auth import keep_session
from ..errors import ValidationFailed
from ..extensions import limiter
from ..validation import parse
from .api_auth import login_limit
from .pages_common import bp, field_errors, login_required


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField(
        f"New password (at least {users.MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired(), Length(max=1024)],
    )
    confirm = PasswordField(
        "New password, again",
        validators=[DataRequired(), EqualTo("new_password", message="Must be the same as the new password.")],
    )


@bp.route("/account", methods=["GET", "POST"])
# It checks a password, so it shares the login throttle.
@limiter.shared_limit(login_limit, scope="login", methods=["POST"])
@login_required
def account(user):
    form = PasswordForm()
    valid = form.validate_on_submit()
    if form.is_submitted() and not form.csrf_token.errors:
        fields = {"currentPassword": form.current_password, "newPassword": form.new_password}

        def refuse(exc: ValidationFailed) -> None:
            for name, message in field_errors(exc).items():
                field = fields.get(name, form.current_password)
                if not field.errors:  # one sentence per field: "This field is required." says enough
                    field.errors = [*field.errors, message[:1].upper() + message[1:]]

        try:  # the new password's own rules, even when another field is wrong: every problem at once
            parse(users.PasswordReset, {"newPassword": form.new_password.data or ""})
        except ValidationFailed as exc:
            refuse(exc)
        if valid and not form.errors:
            try:
                users.change_password(user, form.current_password.data, form.new_password.data)
            except ValidationFailed as exc:
                refuse(exc)
            else:
                keep_session(user)
                flash("Password changed. Your other sessions and API tokens are logged out.", "success")
                return redirect(url_for("pages.account"))
    return render_template("pages/account.html", form=form), 400 if form.errors else 200
