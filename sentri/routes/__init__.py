"""Blueprints: JSON API modules (api_*.py), HTML pages, the health check and the demo site."""

from __future__ import annotations

import re

from flask import Flask, request

from ..errors import ValidationFailed

MAX_PER_PAGE = 200
# Far past any real list, and small enough that the row offset fits a database integer (a page of
# 10**20 made SQLite raise OverflowError and PostgreSQL "bigint out of range": a 500).
MAX_PAGE = 1_000_000


def page_args(default: int = 50) -> tuple[int, int, int]:
    """Return (page, per_page, offset) from ?page=&perPage=, refusing nonsense with a 400."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("perPage", default))
    except ValueError:
        raise ValidationFailed("page and perPage must be integers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed(f"page must be between 1 and {MAX_PAGE} and perPage between 1 and {MAX_PER_PAGE}")
    return page, per_page, (page - 1) * per_page


def paginated(items: list, total: int, page: int, per_page: int):
    """Return a JSON list with the total in X-Total-Count and the page size in X-Per-Page."""
    from flask import jsonify

    response = jsonify(items)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Page"] = str(page)
    response.headers["X-Per-Page"] = str(per_page)
    return response


# JSON spells a NUL character \u0000; after an escaped backslash ("\\u0000") it is plain text.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def refuse_nul_characters() -> None:
    """Refuse a NUL character in the query string or body with a 400. PostgreSQL text cannot hold
    one, so a name, label or URL carrying it ended as a 500 wherever it was stored or looked up."""
    query = request.query_string
    if b"\x00" in query or b"%00" in query:
        raise ValidationFailed("The query string must not contain NUL characters (%00).")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Forms (already parsed by the CSRF check); an uploaded file is refused as a test document.
        found = any("\x00" in key or any("\x00" in value for value in values)
                    for key, values in request.form.lists())
    else:
        data = request.get_data(cache=True)
        found = b"\x00" in data or _JSON_NUL.search(data) is not None
    if found:
        raise ValidationFailed("The request body must not contain NUL characters (\\u0000).")


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app, and the input checks every request goes through."""
    app.before_request(refuse_nul_characters)
    from . import (
        api_auth,
        api_ci,
        api_environments,
        api_openapi,
        api_projects,
        api_runs,
        api_settings,
        api_suites,
        api_tests,
        api_tokens,
        api_trigger,
        api_users,
        demo,
        health,
        pages,
    )

    for module in (
        health, api_auth, api_projects, api_tests, api_tokens, api_trigger, api_ci, api_runs, api_settings,
        api_suites, api_environments, api_users, api_openapi, pages, demo,
    ):
        app.register_blueprint(module.bp)
