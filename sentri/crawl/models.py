"""A crawl of a project's site: queued, claimed by a browser worker like a test (owner and lease), then
its pages, what it skipped and why, its difference from the project's previous crawl and its drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..public_ids import PublicIdMixin
from ..states import CrawlStatus
from ..timestamps import UTCDateTime, utcnow

ACTIVE_CRAWL_STATUSES = (CrawlStatus.QUEUED, CrawlStatus.RUNNING)
TERMINAL_CRAWL_STATUSES = (CrawlStatus.COMPLETED, CrawlStatus.FAILED, CrawlStatus.ABORTED)
_STANDALONE_ACTIVE = "status IN ('queued', 'running') AND run_id IS NULL"


class Crawl(PublicIdMixin, db.Model):
    __tablename__ = "crawls"
    __table_args__ = (
        # One crawl of its own (API, UI, CLI) at a time per project; a run's crawl is held by the run's lock.
        Index(
            "uq_crawls_one_active_per_project",
            "project_id",
            unique=True,
            sqlite_where=text(_STANDALONE_ACTIVE),
            postgresql_where=text(_STANDALONE_ACTIVE),
        ),
        Index("ix_crawls_project_created", "project_id", "created_at"),
        Index("ix_crawls_status", "status"),
        {"sqlite_autoincrement": True},
    )
    ID_PREFIX = "CRL"
    NOUN = "Crawl"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The run that crawls first (crawl: true), or None for a crawl asked for on its own.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CrawlStatus.QUEUED)
    triggered_by: Mapped[str] = mapped_column(String(64), default="")
    base_url: Mapped[str] = mapped_column(String(2048))
    # maxPages, maxDepth, crawlPages, respectRobots, fillForms, generateTests, testCount, perspectives,
    # concurrency, environmentId, testDataSetId, variables.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # found / visited / queued
    pages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    skipped: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    notes: Mapped[list[str] | None] = mapped_column(JSON)
    diff: Mapped[dict[str, Any] | None] = mapped_column(
        JSON
    )  # added / removed / changed since the last crawl
    drafts: Mapped[list[int] | None] = mapped_column(JSON)  # the ids of the draft tests it made
    # Counted as it finishes, so that a list of crawls never reads their pages.
    page_count: Mapped[int | None] = mapped_column(Integer)
    broken_count: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stop_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What a list of crawls reads (runs.crawls.list_for): no pages, skips or notes.
    LISTED = (
        "id",
        "project_id",
        "run_id",
        "status",
        "triggered_by",
        "base_url",
        "options",
        "progress",
        "diff",
        "drafts",
        "error",
        "page_count",
        "broken_count",
        "created_at",
        "started_at",
        "finished_at",
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_CRAWL_STATUSES
