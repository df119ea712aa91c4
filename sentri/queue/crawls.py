"""A crawl's life in the database, beside its run's (claims.py is the model): started on its own or by a
crawl: true run, claimed by one browser worker with a lease, its progress written as it goes, finished in
one transaction (pages, the diff from the project's previous crawl, drafts, and a run's page checks queued
after its tests), stopped, recovered when its process died.

Nothing here holds a lock across anything but its own short transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from ..crawl import drafts as drafting
from ..crawl import limits
from ..crawl.diff import diff
from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..crawl.report import page_verdict
from ..crawl.settings import CrawlRequest, CrawlSettings, settings_from
from ..database import write
from ..errors import Conflict
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Project, Result, Run, TestCase, get_or_404, utcnow
from ..runs.options import RunOptions
from ..states import CrawlStatus, ResultStatus, RunStatus
from . import lifecycle, notices

log = logging.getLogger(__name__)
MAX_CLAIMS = 2  # a crawl lost with its worker is run again once, then failed
PAGE_CHECK_PREFIX = "Page "


@dataclass(frozen=True)
class CrawlClaim:
    """A crawl a worker took."""

    crawl_id: int
    run_id: int | None
    project_id: int
    owner: str
    result_id: None = None  # not a test: the heartbeat tells the two apart by this
    more: bool = False


# -- starting ------------------------------------------------------------------------------------------


def last_settings(project: Project) -> dict[str, Any] | None:
    """The settings of the project's last crawl (what maxPages / maxDepth default to)."""
    return db.session.scalar(select(Crawl.options).where(Crawl.project_id == project.id)
                             .order_by(Crawl.id.desc()).limit(1))


def start(project: Project, settings: CrawlSettings, *, base_url: str, triggered_by: str,
          extra: dict[str, Any] | None = None) -> Crawl:
    """Queue a crawl of its own (drafts for the review queue); 409 while the project has one queued or running."""
    crawl = Crawl(project_id=project.id, status=CrawlStatus.QUEUED, triggered_by=triggered_by, base_url=base_url,
                  options={**settings.as_json(), **(extra or {})}, progress={})
    try:
        with write():
            db.session.add(crawl)
            notices.work_ready()
    except IntegrityError:
        active = db.session.scalar(select(Crawl).where(Crawl.project_id == project.id, Crawl.run_id.is_(None),
                                                       Crawl.status.in_(ACTIVE_CRAWL_STATUSES)))
        raise Conflict(f"Project {project.public_id} already has a crawl in progress.",
                       crawlId=active.public_id if active else None) from None
    return crawl


def stop(crawl: Crawl) -> None:
    """Stop a crawl: a queued one at once, a running one by its worker within seconds."""
    with write():
        db.session.execute(update(Crawl).where(Crawl.id == crawl.id, Crawl.status == CrawlStatus.QUEUED)
                           .values(status=CrawlStatus.ABORTED, finished_at=utcnow()))
        db.session.execute(update(Crawl).where(Crawl.id == crawl.id, Crawl.status == CrawlStatus.RUNNING)
                           .values(stop_requested=True))


# -- claiming --------------------------------------------------------------------------------------------


def _claimable():
    run_ok = or_(Crawl.run_id.is_(None),
                 exists().where(Run.id == Crawl.run_id, Run.status.in_(ACTIVE_RUN_STATUSES), Run.stop_reason.is_(None)))
    return select(Crawl.id).where(Crawl.status == CrawlStatus.QUEUED, run_ok).order_by(Crawl.id).limit(1)


_CLAIMABLE = _claimable()  # built once: every claim of a test asks first (worker/engine.py)
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(skip_locked=True)


def has_work() -> bool:
    found = db.session.scalar(_CLAIMABLE)
    db.session.commit()
    return found is not None


def claim(owner: str, lease_seconds: float, *, slot: Callable[[], bool] | None = None) -> CrawlClaim | None:
    """Take the oldest queued crawl for `owner`; a run's crawl starts its run. `slot`: as claims.claim()'s."""
    with write():
        locked = db.session.get_bind().dialect.name == "postgresql"
        crawl_id = db.session.scalar(_CLAIMABLE_LOCKED if locked else _CLAIMABLE)
        if crawl_id is None or (slot is not None and not slot()):
            return None
        now = utcnow()
        db.session.execute(update(Crawl).where(Crawl.id == crawl_id, Crawl.status == CrawlStatus.QUEUED).values(
            status=CrawlStatus.RUNNING, owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
            claims=Crawl.claims + 1, started_at=func.coalesce(Crawl.started_at, now)))
        crawl = db.session.get(Crawl, crawl_id)
        if crawl.run_id is not None:
            db.session.execute(update(Run).where(Run.id == crawl.run_id, Run.status == RunStatus.QUEUED)
                               .values(status=RunStatus.RUNNING, started_at=now))
        taken = CrawlClaim(crawl.id, crawl.run_id, crawl.project_id, owner)
    log.info("CRL-%s started on %s%s", taken.crawl_id, owner, f" for RUN-{taken.run_id}" if taken.run_id else "")
    return taken


def renew(owner: str, crawl_ids: list[int], lease_seconds: float) -> None:
    if crawl_ids:
        with write():
            db.session.execute(update(Crawl).where(Crawl.id.in_(crawl_ids), Crawl.owner == owner,
                                                   Crawl.status == CrawlStatus.RUNNING)
                               .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))


def to_stop(owner: str, crawl_ids: list[int]) -> dict[int, str]:
    """Which of the owner's crawls must stop: 'stop' (asked, or its run stops) or 'lost' (no longer its)."""
    if not crawl_ids:
        return {}
    rows = db.session.execute(
        select(Crawl.id, Crawl.owner, Crawl.status, Crawl.stop_requested, Run.stop_reason, Run.status)
        .outerjoin(Run, Run.id == Crawl.run_id).where(Crawl.id.in_(crawl_ids))).all()
    db.session.commit()
    verdicts = dict.fromkeys(set(crawl_ids) - {row[0] for row in rows}, "lost")
    for crawl_id, row_owner, status, asked, run_stop, run_status in rows:
        if (row_owner != owner or status != CrawlStatus.RUNNING
                or (run_status and run_status not in ACTIVE_RUN_STATUSES)):
            verdicts[crawl_id] = "lost"
        elif asked or run_stop is not None:
            verdicts[crawl_id] = "stop"
    return verdicts


def progress(claim: CrawlClaim, counts: dict[str, int]) -> None:
    with write():
        db.session.execute(update(Crawl).where(Crawl.id == claim.crawl_id, Crawl.owner == claim.owner,
                                               Crawl.status == CrawlStatus.RUNNING).values(progress=counts))


# -- finishing -------------------------------------------------------------------------------------------


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
            log.warning("CRL-%s: its outcome came after the crawl was taken back or stopped; dropped", claim.crawl_id)
            return False
        pages = outcome.get("pages") or []
        settings = CrawlSettings.from_json(crawl.options)
        crawl.status, crawl.finished_at, crawl.lease_until = CrawlStatus.COMPLETED, utcnow(), None
        crawl.pages, crawl.skipped, crawl.notes = pages, outcome.get("skipped") or [], outcome.get("notes") or []
        crawl.progress = {"found": len(pages) + len(crawl.skipped), "visited": len(pages), "queued": 0}
        crawl.page_count, crawl.broken_count = len(pages), sum(page_verdict(page) == "broken" for page in pages)
        crawl.diff = diff(previous_pages(crawl), pages, crawl.skipped, all_listed=outcome["allListed"])
        if settings.generate_tests:
            crawl.drafts = _add_drafts(crawl, settings, pages)
        if crawl.run_id is not None:
            _queue_page_checks(crawl.run_id, pages, crawl.base_url)
            notices.work_ready(crawl.run_id)  # its run's tests waited for the crawl
        counts = (crawl.page_count, crawl.broken_count, len(crawl.drafts or []) if settings.generate_tests else 0)
    log.info("CRL-%s completed: %d page(s), %d broken, %d draft(s)", claim.crawl_id, *counts)
    return True


def fail(claim: CrawlClaim, error: str) -> None:
    """The crawl could not run (no browser, an unreadable secret): it fails, and so does its run."""
    with write():
        failed = db.session.execute(update(Crawl).where(_mine(claim)).values(
            status=CrawlStatus.FAILED, error=error[:2000], finished_at=utcnow(), lease_until=None)).rowcount
        if failed and claim.run_id is not None:
            lifecycle.stop_in_transaction(claim.run_id, "failed", f"The crawl failed: {error}"[:2000])
    if failed:
        log.info("CRL-%s failed: %s", claim.crawl_id, error[:300])


def stopped(claim: CrawlClaim) -> None:
    """The worker stopped the crawl (asked, or its run stops): aborted; the run ends when nothing is left."""
    with write():
        done = db.session.execute(update(Crawl).where(_mine(claim)).values(
            status=CrawlStatus.ABORTED, finished_at=utcnow(), lease_until=None)).rowcount
        if done and claim.run_id is not None:
            _no_longer_crawling(claim.run_id)
            if not lifecycle.end_if_done(claim.run_id):
                notices.work_ready(claim.run_id)
    if done:
        log.info("CRL-%s aborted: stopped", claim.crawl_id)


def release(claim: CrawlClaim) -> None:
    """Hand a crawl back (this process stops): queued again for another process or the next start."""
    with write():
        if db.session.execute(update(Crawl).where(_mine(claim)).values(status=CrawlStatus.QUEUED, owner=None,
                                                                       lease_until=None)).rowcount:
            notices.work_ready()


def recover() -> list[int]:
    """Crawls whose lease ran out (their process died) run again once, then fail. Return the runs touched."""
    now = utcnow()
    orphaned = exists().where(Run.id == Crawl.run_id, Run.status.not_in(ACTIVE_RUN_STATUSES))
    if db.session.scalar(select(Crawl.id).where(Crawl.status == CrawlStatus.QUEUED, orphaned).limit(1)):
        with write():  # queued for a run that ended meanwhile (its crawl was lost with the run's end)
            db.session.execute(update(Crawl).where(Crawl.status == CrawlStatus.QUEUED, orphaned)
                               .values(status=CrawlStatus.ABORTED, finished_at=now))
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
        lifecycle.end_if_done(run_id)
        return
    last = db.session.scalar(select(func.max(Result.position)).where(Result.run_id == run_id)) or 0
    for offset, page in enumerate(pages, start=1):
        db.session.add(Result(run_id=run_id, test_id=None, page_url=page["url"], position=last + offset,
                              test_name=f"{PAGE_CHECK_PREFIX}{page.get('path') or page['url']}"[:200],
                              status=ResultStatus.QUEUED, attempts=[], base_url=site_url))
    db.session.execute(update(Run).where(Run.id == run_id).values(total=Run.total + len(pages)))
    db.session.flush()
    lifecycle.end_if_done(run_id)  # a site with no page left and no test ends here


def _add_drafts(crawl: Crawl, settings: CrawlSettings, pages: list[dict[str, Any]]) -> list[int]:
    existing = [test.steps for test in db.session.scalars(select(TestCase).where(TestCase.project_id == crawl.project_id))]
    made = drafting.make_drafts(pages, perspectives=settings.perspectives, fill_forms=settings.fill_forms,
                                limit=settings.test_count, existing=existing, base_url=crawl.base_url)
    rows = [TestCase(project_id=crawl.project_id, name=draft["name"], tags=draft["tags"], steps=draft["steps"],
                     review_status="draft", source_page=draft.get("sourcePage")) for draft in made]
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]


# -- reading ---------------------------------------------------------------------------------------------


def previous_pages(crawl: Crawl) -> list[dict[str, Any]] | None:
    """The pages of the project's last completed crawl before this one (None: this is the first)."""
    return db.session.scalar(select(Crawl.pages).where(Crawl.project_id == crawl.project_id, Crawl.id < crawl.id,
                                                       Crawl.status == CrawlStatus.COMPLETED)
                             .order_by(Crawl.id.desc()).limit(1))


def request(project: Project, body: CrawlRequest, triggered_by: str) -> Crawl:
    """A crawl of its own from a validated request: its baseUrl must be one of the project's origins, its
    environment the project's (400 naming the field)."""
    options = RunOptions(base_url=body.base_url, environment_id=body.environment_id)
    lifecycle.check_settings(project, options)
    settings = settings_from(body, body.generation(), previous=last_settings(project), concurrency=body.concurrency(),
                             generate_default=True)
    extra = {"environmentId": body.environment_id} if body.environment_id else {}
    return start(project, settings, base_url=lifecycle.site_url(project, options), triggered_by=triggered_by,
                 extra=extra)


def list_for(project: Project, limit: int = 50) -> list[Crawl]:
    """Return the project's last crawls, newest first, with only Crawl.LISTED read (touching pages raises)."""
    listed = load_only(*(getattr(Crawl, name) for name in Crawl.LISTED), raiseload=True)
    return list(db.session.scalars(select(Crawl).options(listed).where(Crawl.project_id == project.id)
                                   .order_by(Crawl.id.desc()).limit(limit)))


def for_run(run: Run) -> Crawl | None:
    """The crawl of a crawl: true run with what it skipped, but no page record (a run's page reads it)."""
    shown = load_only(*(getattr(Crawl, name) for name in (*Crawl.LISTED, "skipped")), raiseload=True)
    return db.session.scalar(select(Crawl).options(shown).where(Crawl.run_id == run.id)
                             .order_by(Crawl.id.desc()).limit(1))


def get(project: Project, public_id: str) -> Crawl:
    return get_or_404(Crawl, public_id, project=project)
