"""A schedule: a cron expression in a time zone that starts an ordinary run of its project, and what its
last firing did (the run it started, or why it skipped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..public_ids import PublicIdMixin
from ..timestamps import UTCDateTime, utcnow


class Schedule(PublicIdMixin, db.Model):
    __tablename__ = "schedules"
    __table_args__ = (
        # Every process looks for due rows every few seconds: only the few with a next time are read.
        Index("ix_schedules_next_run_at", "next_run_at"),
        {"sqlite_autoincrement": True},
    )
    ID_PREFIX = "SCH"
    NOUN = "Schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(120))  # five fields: minute hour day-of-month month day-of-week
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name the cron is read in
    enabled: Mapped[bool] = mapped_column(default=True)
    # The trigger body each run starts with (runs/options.py validates it, at creation and at each firing).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Where the run pages its alerts link to are reached: the address the schedule was created through.
    public_url: Mapped[str | None] = mapped_column(String(2048))
    # When it fires next (UTC), None while paused. Firing claims the row by this value (firing.py).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    # The last occurrence that started no run: {at, reason (busy / invalid / error), message, runId}.
    last_skip: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
