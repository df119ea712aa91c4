"""Why a crawl did not visit a URL, in words: the crawl and run pages say it, the API keeps the code
(`skipped[].reason`). The codes come from urls.Frontier and crawler.crawl."""

from __future__ import annotations

from typing import Any

from . import limits
from .urls import PER_PARAM_VALUES, PER_PATTERN, PER_PREFIX, SAME_STRUCTURE_VISITS, pattern, section_of

_FIXED = {
    "offsite": "it is on another site (another host, port or scheme): a crawl stays on its own site.",
    "too_long": f"its URL is longer than {limits.MAX_URL:,} characters: cut, it would be another page.",
    "duplicate": "it is another spelling of a URL already found (a #fragment, a tracking parameter such as utm_source, "
    "or the query in another order).",
    "robots": "the site's robots.txt asks crawlers not to visit it (the crawl honours robots.txt: respectRobots).",
    "facet": f"its query parameter already had {PER_PARAM_VALUES} values on this path: a faceted search or filter "
    "is not followed further.",
    "crawl_size": f"the crawl's pages reached {limits.megabytes(limits.MAX_CRAWL_BYTES)}, the most a crawl keeps.",
    "stopped": "the crawl was stopped before it got there.",
    "time_limit": "the crawl's time ran out before it got there (or while the page was loading).",
}


def sentence(entry: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    """Say why the skipped URL `entry` ({url, reason}) was not visited, given the crawl's options."""
    reason, url = entry.get("reason") or "", entry.get("url") or ""
    options = options or {}
    if reason in _FIXED:
        return _FIXED[reason]
    if reason == "depth":
        depth = options.get("maxDepth")
        if depth == 0:
            return "the crawl visits its start pages only (maxDepth 0), and this is a page they link to."
        return (
            f"it is more than {depth} link(s) away from the start pages (maxDepth {depth})."
            if depth is not None
            else "it is more links away from the start pages than maxDepth allows."
        )
    if reason == "max_pages":
        return f"the crawl had already visited the {options.get('maxPages', 'most')} pages it may (maxPages)."
    if reason == "trap":
        return (
            f"{PER_PATTERN} URLs of its pattern {pattern(url)} were already found: more of one pattern (a "
            "calendar, an endless list) are not followed."
        )
    if reason == "duplicate_structure":
        return (
            f"{SAME_STRUCTURE_VISITS} pages of its pattern {pattern(url)} were already visited and had the same "
            "structure: more of them would show nothing new."
        )
    if reason == "section_cap":
        return (
            f"its section {section_of(url)} already had {PER_PREFIX} pages, so its other pages waited for the "
            f"rest of the site; the crawl then reached its {options.get('maxPages', 'most')} pages (maxPages)."
        )
    return f"the crawl gave the reason {reason!r}."
