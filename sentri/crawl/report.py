"""How a crawl looks from outside: its API form, the site map tree, and each page's vitals colour."""

from __future__ import annotations

from typing import Any

from ..models import TestCase, isoformat
from ..origins import origin_of
from ..policies import vitals as vitals_rules
from .models import Crawl

RANKS = ("good", "needs-improvement", "poor")


def vitals_colour(vitals: dict[str, Any] | None) -> str | None:
    """good / needs-improvement / poor by the worst measured metric (runs.vitals.rating, Google's thresholds);
    None when nothing was measured."""
    ratings = [vitals_rules.rating(metric, (vitals or {}).get(metric)) for metric in vitals_rules.METRICS]
    found = [RANKS.index(r) for r in ratings if r is not None]
    return RANKS[max(found)] if found else None


def page_verdict(page: dict[str, Any]) -> str:
    """ok or broken, as the run's page check will judge it (HTTP status, exceptions, failed requests)."""
    status = page.get("status")
    # Responses with a status are the site's own (visit.py); a request that failed counts when it was the site's.
    origin = origin_of(page.get("url") or "")
    failed = [
        r
        for r in page.get("failedRequests") or []
        if r.get("status") or origin_of(r.get("url") or "") == origin
    ]
    broken = page.get("error") or (status is not None and status >= 400) or page.get("exceptions") or failed
    return "broken" if broken else "ok"


def site_map(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pages as a tree by path segments: [{name, path, page?, children}], sorted by name."""
    root: dict[str, Any] = {"children": {}}
    for page in pages:
        path = (page.get("path") or "/").split("?")[0]
        node = root
        built = ""
        for segment in [s for s in path.split("/") if s]:
            built += "/" + segment
            node = node["children"].setdefault(segment, {"name": segment, "path": built, "children": {}})
        if node is root:
            node = root["children"].setdefault("", {"name": "/", "path": "/", "children": {}})
        node.setdefault("pages", []).append(
            {
                "url": page.get("url"),
                "path": page.get("path"),
                "status": page.get("status"),
                "title": page.get("title"),
                "verdict": page_verdict(page),
                "vitals": vitals_colour(page.get("vitals")),
            }
        )

    def listed(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": child["name"],
                "path": child["path"],
                "pages": child.get("pages", []),
                "children": listed(child),
            }
            for _, child in sorted(node["children"].items())
        ]

    return listed(root)


def serialize(crawl: Crawl, *, detail: bool = False) -> dict[str, Any]:
    """The API form of a crawl; `detail` adds its pages, skips, notes and site map (without it, no page
    record is read: a list of crawls loads none)."""
    body = {
        "id": crawl.public_id,
        "projectId": f"PRJ-{crawl.project_id}",
        "runId": f"RUN-{crawl.run_id}" if crawl.run_id else None,
        "status": crawl.status,
        "baseUrl": crawl.base_url,
        "options": crawl.options,
        "progress": {"found": 0, "visited": 0, "queued": 0, **(crawl.progress or {})},
        "pagesFound": crawl.page_count or 0,
        "broken": crawl.broken_count or 0,
        "drafts": [TestCase.format_id(key) for key in crawl.drafts or []],
        "diff": crawl.diff,
        "error": crawl.error,
        "triggeredBy": crawl.triggered_by,
        "createdAt": isoformat(crawl.created_at),
        "startedAt": isoformat(crawl.started_at),
        "finishedAt": isoformat(crawl.finished_at),
    }
    if detail:
        pages = crawl.pages or []
        body.update(
            pages=pages, skipped=crawl.skipped or [], notes=crawl.notes or [], siteMap=site_map(pages)
        )
    return body
