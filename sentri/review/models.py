"""Screenshot baselines and heal proposals: rows a run creates and a person decides.

A baseline belongs to one screenshot of one test, keyed by (test, name, browser, device, viewport). Its
image lives in the visual store (visual.py), named by its SHA-256, so the same picture is one file. At most
one approved and one pending row per key are kept current: a new picture replaces the pending one.

A heal proposal names a target that matched nothing (or too much), the first step using it, and the target
that found the same element; accepting it changes every step of the test using the old target, rejecting it
stops that heal from happening again. It is withdrawn when a later run of the test fails, and stale when the
test no longer uses the old target (or another proposal for it was accepted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..public_ids import PublicIdMixin
from ..timestamps import UTCDateTime, utcnow

BASELINE_STATUSES = ("pending", "approved", "rejected", "superseded")
HEAL_STATUSES = ("pending", "accepted", "rejected", "stale", "withdrawn")


class Baseline(PublicIdMixin, db.Model):
    __tablename__ = "baselines"
    __table_args__ = (
        Index("ix_baselines_key", "test_id", "name", "browser", "device", "viewport", "status"),
        Index("ix_baselines_project_status", "project_id", "status"),
        {"sqlite_autoincrement": True},
    )
    ID_PREFIX = "BSL"
    NOUN = "Baseline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    test_id: Mapped[int] = mapped_column(ForeignKey("tests.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    browser: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(32))
    viewport: Mapped[str] = mapped_column(String(16))  # "1280x720"
    step: Mapped[int] = mapped_column(Integer)  # the step that took it, numbered from 1
    status: Mapped[str] = mapped_column(String(16), default="pending")
    sha256: Mapped[str] = mapped_column(String(64))
    # A changed picture: the approved baseline it was compared with, the diff image and its share of pixels.
    compared_with_id: Mapped[int | None] = mapped_column(ForeignKey("baselines.id", ondelete="SET NULL"))
    diff_sha256: Mapped[str | None] = mapped_column(String(64))
    diff_ratio: Mapped[float | None] = mapped_column(Float)
    diff_box: Mapped[list[int] | None] = mapped_column(
        JSON
    )  # [left, top, right, bottom] of the changed pixels
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))  # USR-n or "cli"


class HealProposal(PublicIdMixin, db.Model):
    __tablename__ = "heal_proposals"
    __table_args__ = (
        Index("ix_heal_proposals_test_step", "test_id", "step", "status"),
        Index("ix_heal_proposals_project_status", "project_id", "status"),
        {"sqlite_autoincrement": True},
    )
    ID_PREFIX = "HEA"
    NOUN = "Heal proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    test_id: Mapped[int] = mapped_column(ForeignKey("tests.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)  # the first step using old_target that healed, numbered from 1
    old_target: Mapped[dict[str, Any]] = mapped_column(JSON)
    new_target: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    seen: Mapped[int] = mapped_column(Integer, default=1)  # passing runs that healed the target this way
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))  # USR-n, "cli", or the RUN-n that withdrew it
