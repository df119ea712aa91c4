"""What every HTML page shares: the `pages` blueprint, the login requirement, field errors, pagination
of lists and the template context. The views live in pages.py (log in, projects, runs), pages_project.py,
pages_tests.py, pages_users.py and pages_account.py, each adding its own to this blueprint."""

from __future__ import annotations

import functools

from flask import Blueprint, flash, redirect, request, url_for
from flask_wtf import FlaskForm

from .. import ui
from ..auth import current_user
from ..errors import SentriError
from ..reports import serialize
from ..review import queue

bp = Blueprint("pages", __name__)


class LogoutForm(FlaskForm):
    """Only a CSRF token: logging out is a state change too."""


def login_required(view):
    """Send an anonymous visitor to the login page (and back afterwards); pass the user as `user`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, user=user, **kwargs)

    return wrapper


def field_errors(exc: SentriError) -> dict[str, str]:
    """What a domain error says about each field, to show beside it ('' = about the form as a whole)."""
    return dict(getattr(exc, "fields", None) or {"": exc.message})


def tell(section: str, message: str, category: str = "success") -> None:
    """Flash a message shown beside the page's section `section` (partials/forms.html), where the
    redirect's #anchor puts the reader, instead of at the top of a long page."""
    flash(message, f"{category}:{section}")


def get_goes_back(
    rule: str, endpoint: str, anchor: str = "", *, keep: tuple[str, ...] = ("project_id",)
) -> None:
    """Answer a GET of a form's POST-only address (a reload, a shared link, the address bar after a
    refused save) by sending the browser to the page that holds the form, at its section. `anchor` may
    name the rule's values ("{kind}"); `keep` are the values the page's own address takes."""

    def back(user, **values):
        target = url_for(endpoint, **{name: values[name] for name in keep if name in values})
        return redirect(target + (f"#{anchor.format(**values)}" if anchor else ""))

    name = "back:" + rule
    bp.add_url_rule(rule, endpoint=name, view_func=login_required(back), methods=["GET"])


def page_of(per_page: int = ui.PER_PAGE) -> tuple[int, int]:
    """Return (page number, offset) of ?page=."""
    number = ui.page_number(request.args.get("page"))
    return number, (number - 1) * per_page


@bp.context_processor
def _inject_user():
    # formdata=None: the token alone, never the request's form (a body over MAX_CONTENT_LENGTH would raise
    # its 413 again while its own error page renders, and end as a 500).
    return {
        "user": current_user(),
        "logout_form": LogoutForm(formdata=None),
        "ui": ui,
        "verdict_of": serialize.shown_verdict,
        "review_counts_of": queue.counts,
    }
