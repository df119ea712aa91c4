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


# Text no database here can store: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates (no
# UTF-8 encoding exists). JSON spells them \u0000 and \ud800-\udfff; an escape is real when an even
# number of backslashes precedes it ("\\u0000" is a backslash and "u0000"), and a high surrogate
# directly followed by a low one is a valid pair (an emoji). Python's json also decodes raw
# UTF-8-style surrogate bytes (ED A0..BF xx).
_JSON_ESCAPE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:(0000)|([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|([dD][c-fC-F][0-9a-fA-F]{2}))"
)
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def _unstorable(data: bytes) -> str | None:
    """Name the unstorable characters a JSON body holds, or return None."""
    if b"\x00" in data:
        return "NUL characters (\\u0000)"
    for match in _JSON_ESCAPE.finditer(data):
        if match.group(1):
            return "NUL characters (\\u0000)"
        if match.group(4) or not match.group(3):
            return "unpaired surrogates (\\ud800-\\udfff)"
    if _RAW_SURROGATE.search(data):
        return "unpaired surrogates (\\ud800-\\udfff)"
    return None


def refuse_unstorable_characters() -> None:
    """Refuse NUL characters in the query string, a form or a body, and unpaired surrogates in a JSON
    body, with a 400: a name, label, URL or secret carrying one ended as a 500 wherever it was stored
    or looked up (NUL on PostgreSQL; a surrogate on both databases, which cannot encode it)."""
    query = request.query_string
    if b"\x00" in query or b"%00" in query:
        raise ValidationFailed("The query string must not contain NUL characters (%00).")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Forms (already parsed by the CSRF check; invalid UTF-8 becomes U+FFFD there). An uploaded
        # file is checked as the test document it must be.
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.form.lists()):
            raise ValidationFailed("The form must not contain NUL characters.")
        return
    found = _unstorable(request.get_data(cache=True))
    if found:
        raise ValidationFailed(f"The request body must not contain {found}.")


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app, and the input checks every request goes through."""
    app.before_request(refuse_unstorable_characters)
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
