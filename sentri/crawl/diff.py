"""What changed since the project's previous crawl, by path (a preview deploy's crawl compares with
production's): pages added, changed (status, title, heading or structure), removed, and not reached.

*Removed* is a claim about the site, so it needs evidence from this crawl; a page this crawl merely did not
get to (maxDepth, maxPages, robots.txt, its time limit, a cap) is *not reached*, never removed. A page
visited last time and not this time is removed when either

* this crawl asked for its URL and was sent to another page (it now redirects), or
* this crawl read, whole and without error, the page that linked to it last time, and found no link to it
  there, nor anywhere else (it is not among the URLs this crawl refused) — or, for a page first found in the
  sitemap, this crawl read the sitemap and neither it nor any page names the URL any more.

Without a whole skip list (limits.MAX_SKIPPED, or pages left out of the stored crawl) the second kind of
evidence is not there: such a crawl judges only redirects.
"""

from __future__ import annotations

import json
from typing import Any

from . import limits
from .urls import path_of


def _fingerprint(page: dict[str, Any]) -> str:
    return json.dumps([page.get("status"), page.get("title"), page.get("heading"), page.get("signature")])


def _key(page: dict[str, Any]) -> str:
    return page.get("path") or page["url"]


def _read_whole(page: dict[str, Any]) -> bool:
    """Whether a page's stored links are all the links it had (read without error, none cut)."""
    status = page.get("status")
    return (
        not page.get("error")
        and page.get("signature") is not None
        and status is not None
        and status < 400
        and len(page.get("links") or []) < limits.MAX_STORED_LINKS
        and "links" not in (page.get("cut") or [])
    )


def diff(
    before: list[dict[str, Any]] | None,
    after: list[dict[str, Any]],
    skipped: list[dict[str, Any]] = (),
    *,
    all_listed: bool = True,
) -> dict[str, Any]:
    """Pages added, removed, changed and not reached since the previous crawl (`before`; None: the first),
    from this crawl's pages and the URLs it refused (`skipped`; `all_listed`: none left out of the list)."""
    if before is None:
        return {"first": True, "added": [], "removed": [], "changed": [], "notReached": []}
    old = {_key(page): page for page in before}
    new = {_key(page): page for page in after}
    changed = []
    for path in sorted(old.keys() & new.keys()):
        if _fingerprint(old[path]) != _fingerprint(new[path]):
            what = [
                key
                for key in ("status", "title", "heading", "signature")
                if old[path].get(key) != new[path].get(key)
            ]
            changed.append(
                {"path": path, "what": ["structure" if key == "signature" else key for key in what]}
            )
    redirected = {
        path_of(page["requestedUrl"])
        for page in after
        if page.get("requestedUrl") and path_of(page["requestedUrl"]) != _key(page)
    }
    refused = {path_of(entry["url"]) for entry in skipped if entry.get("reason") != "offsite"}
    linked = {
        path: {path_of(url) for url in page.get("links") or []}
        for path, page in new.items()
        if _read_whole(page)
    }
    sitemap_read = any(page.get("source") == "sitemap" for page in after)
    removed, not_reached = [], []
    for path in sorted(old.keys() - new.keys()):
        page = old[path]
        parent = path_of(page["parent"]) if page.get("parent") else None
        unlinked = (
            all_listed
            and path not in refused
            and (
                (parent in linked and path not in linked[parent])
                or (parent is None and page.get("source") == "sitemap" and sitemap_read)
            )
        )
        (removed if path in redirected or unlinked else not_reached).append(path)
    return {
        "first": False,
        "added": sorted(new.keys() - old.keys()),
        "removed": removed,
        "changed": changed,
        "notReached": not_reached,
    }
