"""Times as Sentri keeps them: aware UTC in Python, naive UTC in the database, ISO 8601 'Z' on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Store naive UTC, hand back aware UTC: the same values on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


@overload
def isoformat(value: datetime) -> str: ...


@overload
def isoformat(value: None) -> None: ...


@overload
def isoformat(value: datetime | None) -> str | None: ...


def isoformat(value: datetime | None) -> str | None:
    """Format a datetime as the API's ISO 8601 UTC string ('...Z'), or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
