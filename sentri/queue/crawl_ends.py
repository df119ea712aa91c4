"""How a crawl ends (crawls.py starts, claims and reads it): finished in one transaction (pages, the diff from
the project's previous crawl, drafts, and a run's page checks queued after its tests), failed, stopped,
handed back, or recovered when its process died. Nothing here holds a lock across anything but its own
short transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exists, func, select, update

from ..crawl import drafts as drafting
from ..crawl import limits
from ..crawl.diff import diff
from ..crawl.models import Crawl
from ..crawl.report import page_verdict
from ..crawl.settings import CrawlSettings
from ..database import changed, write
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Result, Run, TestCase, utcnow
from ..states import CrawlStatus, ResultStatus
from . import ending, lifecycle, notices
from .crawls import CrawlClaim, previous_pages

log = logging.getLogger(__name__)

MAX_CLAIMS = 2  # a crawl lost with its worker is run again once, then failed


PAGE_CHECK_PREFIX = "Page "


def _mine(claim: CrawlClaim):
    return (Crawl.id == claim.crawl_id) & (Crawl.owner == claim.owner) & (Crawl.status == CrawlStatus.RUNNING)


def finish(claim: CrawlClaim, outcome: dict[str, Any]) -> bool:
    """Store a finished crawl: its pages, skips and notes (bounded: limits.outcome), the diff from the
    project's previous crawl, its drafts (generateTests), and for a run its page checks, queued after the
    tests. One transaction."""
    outcome = limits.outcome(outcome)
    with write():
        crawl = db.session.scalar(select(Crawl).where(_mine(claim)).with_for_update())
        if crawl is None:
            log.warning(
                "CRL-%s: its outcome came after the crawl was taken back or stopped; dropped", claim.crawl_id
            )
            return False
        pages = outcome.get("pages") or []
        settings = CrawlSettings.from_json(crawl.options)
        crawl.status, crawl.finished_at, crawl.lease_until = CrawlStatus.COMPLETED, utcnow(), None
        crawl.pages, crawl.skipped, crawl.notes = (
            pages,
            outcome.get("skipped") or [],
            outcome.get("notes") or [],
        )
        crawl.progress = {"found": len(pages) + len(crawl.skipped), "visited": len(pages), "queued": 0}
        crawl.page_count, crawl.broken_count = (
            len(pages),
            sum(page_verdict(page) == "broken" for page in pages),
        )
        crawl.diff = diff(previous_pages(crawl), pages, crawl.skipped, all_listed=outcome["allListed"])
        if settings.generate_tests:
            crawl.drafts = _add_drafts(crawl, settings, pages)
        if crawl.run_id is not None:
            _queue_page_checks(crawl.run_id, pages, crawl.base_url)
            notices.work_ready(crawl.run_id)  # its run's tests waited for the crawl
        counts = (
            crawl.page_count,
            crawl.broken_count,
            len(crawl.drafts or []) if settings.generate_tests else 0,
        )
    log.info("CRL-%s completed: %d page(s), %d broken, %d draft(s)", claim.crawl_id, *counts)
    return True


def fail(claim: CrawlClaim, error: str) -> None:
    """The crawl could not run (no browser, an unreadable secret): it fails, and so does its run."""
    with write():
        failed = changed(
            update(Crawl)
            .where(_mine(claim))
            .values(status=CrawlStatus.FAILED, error=error[:2000], finished_at=utcnow(), lease_until=None)
        )
        if failed and claim.run_id is not None:
            lifecycle.stop_in_transaction(claim.run_id, "failed", f"The crawl failed: {error}"[:2000])
    if failed:
        log.info("CRL-%s failed: %s", claim.crawl_id, error[:300])


def stopped(claim: CrawlClaim) -> None:
    """The worker stopped the crawl (asked, or its run stops): aborted; the run ends when nothing is left."""
    with write():
        done = changed(
            update(Crawl)
            .where(_mine(claim))
            .values(status=CrawlStatus.ABORTED, finished_at=utcnow(), lease_until=None)
        )
        if done and claim.run_id is not None:
            _no_longer_crawling(claim.run_id)
            if not ending.end_if_done(claim.run_id):
                notices.work_ready(claim.run_id)
    if done:
        log.info("CRL-%s aborted: stopped", claim.crawl_id)


def release(claim: CrawlClaim) -> None:
    """Hand a crawl back (this process stops): queued again for another process or the next start."""
    with write():
        if changed(
            update(Crawl).where(_mine(claim)).values(status=CrawlStatus.QUEUED, owner=None, lease_until=None)
        ):
            notices.work_ready()


def recover() -> list[int]:
    """Crawls whose lease ran out (their process died) run again once, then fail. Return the runs touched."""
    now = utcnow()
    orphaned = exists().where(Run.id == Crawl.run_id, Run.status.not_in(ACTIVE_RUN_STATUSES))
    if db.session.scalar(select(Crawl.id).where(Crawl.status == CrawlStatus.QUEUED, orphaned).limit(1)):
        with write():  # queued for a run that ended meanwhile (its crawl was lost with the run's end)
            db.session.execute(
                update(Crawl)
                .where(Crawl.status == CrawlStatus.QUEUED, orphaned)
                .values(status=CrawlStatus.ABORTED, finished_at=now)
            )
    expired = (Crawl.status == CrawlStatus.RUNNING, Crawl.lease_until < now)
    if not db.session.scalar(select(Crawl.id).where(*expired).limit(1)):
        db.session.commit()
        return []
    touched = []
    with write():
        for crawl in db.session.scalars(select(Crawl).where(*expired).limit(20)).all():
            log.warning("CRL-%s: the lease of %s ran out; recovering the crawl", crawl.id, crawl.owner)
            if crawl.claims < MAX_CLAIMS and not crawl.stop_requested:
                crawl.status, crawl.owner, crawl.lease_until = CrawlStatus.QUEUED, None, None
                notices.work_ready()
            else:
                crawl.status, crawl.finished_at, crawl.lease_until = CrawlStatus.FAILED, now, None
                crawl.error = "The crawl could not finish: the worker running it stopped (twice)."
                if crawl.run_id is not None:
                    lifecycle.stop_in_transaction(crawl.run_id, "failed", crawl.error)
            if crawl.run_id is not None:
                touched.append(crawl.run_id)
    return touched


def _no_longer_crawling(run_id: int) -> None:
    db.session.execute(update(Run).where(Run.id == run_id).values(phase=None))


def _queue_page_checks(run_id: int, pages: list[dict[str, Any]], site_url: str) -> None:
    """One page check per visited page, after the run's tests; a stopping run gets none."""
    run = db.session.get(Run, run_id, populate_existing=True)
    _no_longer_crawling(run_id)
    if run is None or run.status not in ACTIVE_RUN_STATUSES or run.stop_reason is not None:
        ending.end_if_done(run_id)
        return
    last = db.session.scalar(select(func.max(Result.position)).where(Result.run_id == run_id)) or 0
    for offset, page in enumerate(pages, start=1):
        db.session.add(
            Result(
                run_id=run_id,
                test_id=None,
                page_url=page["url"],
                position=last + offset,
                test_name=f"{PAGE_CHECK_PREFIX}{page.get('path') or page['url']}"[:200],
                status=ResultStatus.QUEUED,
                attempts=[],
                base_url=site_url,
            )
        )
    db.session.execute(update(Run).where(Run.id == run_id).values(total=Run.total + len(pages)))
    db.session.flush()
    ending.end_if_done(run_id)  # a site with no page left and no test ends here


def _add_drafts(crawl: Crawl, settings: CrawlSettings, pages: list[dict[str, Any]]) -> list[int]:
    existing = [
        test.steps
        for test in db.session.scalars(select(TestCase).where(TestCase.project_id == crawl.project_id))
    ]
    made = drafting.make_drafts(
        pages,
        perspectives=settings.perspectives,
        fill_forms=settings.fill_forms,
        limit=settings.test_count,
        existing=existing,
        base_url=crawl.base_url,
    )
    rows = [
        TestCase(
            project_id=crawl.project_id,
            name=draft["name"],
            tags=draft["tags"],
            steps=draft["steps"],
            review_status="draft",
            source_page=draft.get("sourcePage"),
        )
        for draft in made
    ]
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]
