"""Helpers the JSON views share: list paging and the server's public base URL."""

from __future__ import annotations

from flask import jsonify, request

from ..errors import ValidationFailed
from ..settings import settings

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
        raise ValidationFailed(
            f"page must be between 1 and {MAX_PAGE} and perPage between 1 and {MAX_PER_PAGE}"
        )
    return page, per_page, (page - 1) * per_page


def paginated(items: list, total: int, page: int, per_page: int):
    """Return a JSON list with the total in X-Total-Count and the page size in X-Per-Page."""
    response = jsonify(items)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Page"] = str(page)
    response.headers["X-Per-Page"] = str(per_page)
    return response


def public_base() -> str:
    """Return the server's public base URL: SENTRI_PUBLIC_URL, else this request's scheme and host."""
    return (settings().public_url or request.host_url).rstrip("/")
