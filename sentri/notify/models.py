"""Notification channels (where a project's alerts go) and deliveries (the outbox: one row per run end and
channel, sent by whichever process claims it, retried with back-off)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..public_ids import PublicIdMixin
from ..timestamps import UTCDateTime, utcnow

KINDS = ("slack", "teams", "discord", "webhook", "email")
EVENTS = ("failed", "recovered", "every")
DEFAULT_EVENTS = ("failed", "recovered")
# pending -> sending (claimed) -> delivered, or retrying (back to due later) -> ... -> failed.
DELIVERY_STATES = ("pending", "sending", "retrying", "delivered", "failed")


class NotificationChannel(PublicIdMixin, db.Model):
    __tablename__ = "notification_channels"
    __table_args__ = {"sqlite_autoincrement": True}
    ID_PREFIX = "NTF"
    NOUN = "Notification channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    # The webhook URL or the e-mail addresses, Fernet-encrypted (vault.py): a webhook URL grants posting.
    target: Mapped[str] = mapped_column(Text)
    target_hint: Mapped[str] = mapped_column(String(300))  # the masked form lists show
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # {at, runId, event, state, status}: the newest attempt; lastError stays until the next error.
    last_delivery: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationDelivery(db.Model):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        # One message per run end and channel, whatever happens to the processes that end and send it.
        UniqueConstraint("run_id", "channel_id"),
        Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(16))  # failed / recovered / every
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The process sending it (nodes.id) and until when; a row whose lease ran out is sent again.
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status or SMTP code
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
