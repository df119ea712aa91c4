"""Paging of the HTML lists: which page, its offset, and links to the others."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request, url_for

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """One page of a paginated list."""

    number: int
    per_page: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: str | None) -> int:
    """Read ?page= leniently: anything that is not a positive integer is page 1."""
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def page_url(number: int, endpoint: str | None = None) -> str:
    """Return this page's URL (or `endpoint`'s) with ?page= set, keeping the other query arguments."""
    args = {**(request.view_args or {}), **request.args.to_dict(), "page": number}
    return url_for(str(endpoint or request.endpoint), **args)
