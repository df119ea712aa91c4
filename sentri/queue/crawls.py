"""A crawl's life in the database, beside its run's (claims.py is the model): started on its own or by a
crawl: true run, claimed by one browser worker with a lease, its progress written as it goes; how it ends
(finished, failed, stopped, recovered) is crawl_ends.py.

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

from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..crawl.settings import CrawlRequest, CrawlSettings, settings_from
from ..database import write
from ..errors import Conflict
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Project, Run, utcnow
from ..public_ids import get_or_404
from ..runs.options import RunOptions
from ..states import CrawlStatus, RunStatus
from . import lifecycle, notices

log = logging.getLogger(__name__)


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
    return db.session.scalar(
        select(Crawl.options).where(Crawl.project_id == project.id).order_by(Crawl.id.desc()).limit(1)
    )


def start(
    project: Project,
    settings: CrawlSettings,
    *,
    base_url: str,
    triggered_by: str,
    extra: dict[str, Any] | None = None,
) -> Crawl:
    """Queue a crawl of its own (drafts for the review queue); 409 while the project has one queued or running."""
    crawl = Crawl(
        project_id=project.id,
        status=CrawlStatus.QUEUED,
        triggered_by=triggered_by,
        base_url=base_url,
        options={**settings.as_json(), **(extra or {})},
        progress={},
    )
    try:
        with write():
            db.session.add(crawl)
            notices.work_ready()
    except IntegrityError:
        active = db.session.scalar(
            select(Crawl).where(
                Crawl.project_id == project.id,
                Crawl.run_id.is_(None),
                Crawl.status.in_(ACTIVE_CRAWL_STATUSES),
            )
        )
        raise Conflict(
            f"Project {project.public_id} already has a crawl in progress.",
            crawlId=active.public_id if active else None,
        ) from None
    return crawl


def stop(crawl: Crawl) -> None:
    """Stop a crawl: a queued one at once, a running one by its worker within seconds."""
    with write():
        db.session.execute(
            update(Crawl)
            .where(Crawl.id == crawl.id, Crawl.status == CrawlStatus.QUEUED)
            .values(status=CrawlStatus.ABORTED, finished_at=utcnow())
        )
        db.session.execute(
            update(Crawl)
            .where(Crawl.id == crawl.id, Crawl.status == CrawlStatus.RUNNING)
            .values(stop_requested=True)
        )


# -- claiming --------------------------------------------------------------------------------------------


def _claimable():
    run_ok = or_(
        Crawl.run_id.is_(None),
        exists().where(
            Run.id == Crawl.run_id, Run.status.in_(ACTIVE_RUN_STATUSES), Run.stop_reason.is_(None)
        ),
    )
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
        db.session.execute(
            update(Crawl)
            .where(Crawl.id == crawl_id, Crawl.status == CrawlStatus.QUEUED)
            .values(
                status=CrawlStatus.RUNNING,
                owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                claims=Crawl.claims + 1,
                started_at=func.coalesce(Crawl.started_at, now),
            )
        )
        crawl = db.session.get(Crawl, crawl_id)
        if crawl.run_id is not None:
            db.session.execute(
                update(Run)
                .where(Run.id == crawl.run_id, Run.status == RunStatus.QUEUED)
                .values(status=RunStatus.RUNNING, started_at=now)
            )
        taken = CrawlClaim(crawl.id, crawl.run_id, crawl.project_id, owner)
    log.info(
        "CRL-%s started on %s%s", taken.crawl_id, owner, f" for RUN-{taken.run_id}" if taken.run_id else ""
    )
    return taken


def renew(owner: str, crawl_ids: list[int], lease_seconds: float) -> None:
    if crawl_ids:
        with write():
            db.session.execute(
                update(Crawl)
                .where(Crawl.id.in_(crawl_ids), Crawl.owner == owner, Crawl.status == CrawlStatus.RUNNING)
                .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            )


def to_stop(owner: str, crawl_ids: list[int]) -> dict[int, str]:
    """Which of the owner's crawls must stop: 'stop' (asked, or its run stops) or 'lost' (no longer its)."""
    if not crawl_ids:
        return {}
    rows = db.session.execute(
        select(Crawl.id, Crawl.owner, Crawl.status, Crawl.stop_requested, Run.stop_reason, Run.status)
        .outerjoin(Run, Run.id == Crawl.run_id)
        .where(Crawl.id.in_(crawl_ids))
    ).all()
    db.session.commit()
    verdicts = dict.fromkeys(set(crawl_ids) - {row[0] for row in rows}, "lost")
    for crawl_id, row_owner, status, asked, run_stop, run_status in rows:
        if (
            row_owner != owner
            or status != CrawlStatus.RUNNING
            or (run_status and run_status not in ACTIVE_RUN_STATUSES)
        ):
            verdicts[crawl_id] = "lost"
        elif asked or run_stop is not None:
            verdicts[crawl_id] = "stop"
    return verdicts


def progress(claim: CrawlClaim, counts: dict[str, int]) -> None:
    with write():
        db.session.execute(
            update(Crawl)
            .where(
                Crawl.id == claim.crawl_id, Crawl.owner == claim.owner, Crawl.status == CrawlStatus.RUNNING
            )
            .values(progress=counts)
        )


# -- finishing -------------------------------------------------------------------------------------------


# -- reading ---------------------------------------------------------------------------------------------


def previous_pages(crawl: Crawl) -> list[dict[str, Any]] | None:
    """The pages of the project's last completed crawl before this one (None: this is the first)."""
    return db.session.scalar(
        select(Crawl.pages)
        .where(
            Crawl.project_id == crawl.project_id, Crawl.id < crawl.id, Crawl.status == CrawlStatus.COMPLETED
        )
        .order_by(Crawl.id.desc())
        .limit(1)
    )


def request(project: Project, body: CrawlRequest, triggered_by: str) -> Crawl:
    """A crawl of its own from a validated request: its baseUrl must be one of the project's origins, its
    environment the project's (400 naming the field)."""
    options = RunOptions(base_url=body.base_url, environment_id=body.environment_id)
    lifecycle.check_settings(project, options)
    settings = settings_from(
        body,
        body.generation(),
        previous=last_settings(project),
        concurrency=body.concurrency(),
        generate_default=True,
    )
    extra = {"environmentId": body.environment_id} if body.environment_id else {}
    return start(
        project,
        settings,
        base_url=lifecycle.site_url(project, options),
        triggered_by=triggered_by,
        extra=extra,
    )


def list_for(project: Project, limit: int = 50) -> list[Crawl]:
    """Return the project's last crawls, newest first, with only Crawl.LISTED read (touching pages raises)."""
    listed = load_only(*(getattr(Crawl, name) for name in Crawl.LISTED), raiseload=True)
    return list(
        db.session.scalars(
            select(Crawl)
            .options(listed)
            .where(Crawl.project_id == project.id)
            .order_by(Crawl.id.desc())
            .limit(limit)
        )
    )


def for_run(run: Run) -> Crawl | None:
    """The crawl of a crawl: true run with what it skipped, but no page record (a run's page reads it)."""
    shown = load_only(*(getattr(Crawl, name) for name in (*Crawl.LISTED, "skipped")), raiseload=True)
    return db.session.scalar(
        select(Crawl).options(shown).where(Crawl.run_id == run.id).order_by(Crawl.id.desc()).limit(1)
    )


def get(project: Project, public_id: str) -> Crawl:
    return get_or_404(Crawl, public_id, project=project)
