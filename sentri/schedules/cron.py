"""Cron expressions in a time zone: checked, described in words, and their next times in UTC.

cronsim (healthchecks' evaluator) reads the five fields and walks daylight-saving changes the way Debian's
cron does: a time that does not exist that day (02:30 when clocks jump from 02:00 to 03:00) fires at the
first minute that does, and a time that happens twice (when clocks go back) fires once, the first time.
Time zones are IANA names read by zoneinfo from the tzdata package, so every machine has the same ones.
cron-descriptor says the expression in words ("At 02:00, Monday through Friday")."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime

from cron_descriptor import ExpressionDescriptor, Options
from cronsim import CronSim, CronSimError

FIELDS = 5


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the time zone an IANA name names, or raise ValueError saying it is not one."""
    if not isinstance(name, str) or name not in _zones() | {"UTC"}:
        raise ValueError(f"{name!r} is not an IANA time zone name (such as Europe/Berlin or UTC)")
    return zoneinfo.ZoneInfo(name)


def check(expression: str) -> str:
    """Return a five-field cron expression in its normal spacing, or raise ValueError saying what is wrong."""
    if not isinstance(expression, str):
        raise ValueError(
            "must be a cron expression of five fields (minute hour day-of-month month day-of-week)"
        )
    fields = expression.split()
    if len(fields) != FIELDS:
        raise ValueError(
            f"must have five fields (minute hour day-of-month month day-of-week), not {len(fields)}"
        )
    normal = " ".join(fields)
    try:
        iterator = CronSim(normal, datetime(2000, 1, 1, tzinfo=UTC))
        next(iterator)
    except CronSimError as exc:
        raise ValueError(f"is not a valid cron expression ({str(exc).lower()})") from None
    except StopIteration:
        raise ValueError("never fires (no date matches it)") from None
    return normal


def upcoming(expression: str, timezone: str, after: datetime, count: int = 1) -> list[datetime]:
    """The next `count` times the expression fires strictly after `after`, read in `timezone`, in UTC."""
    local = after.astimezone(zone(timezone))
    times = []
    iterator = CronSim(expression, local)
    for _ in range(count):
        try:
            times.append(next(iterator).astimezone(UTC))
        except StopIteration:
            break
    return times


def next_after(expression: str, timezone: str, after: datetime) -> datetime | None:
    """The first time the expression fires strictly after `after` (UTC), or None when it never does again."""
    found = upcoming(expression, timezone, after)
    return found[0] if found else None


def describe(expression: str) -> str:
    """The expression in words, with a 24-hour clock; cronsim's own words for what cron-descriptor cannot say."""
    options = Options()
    options.use_24hour_time_format = True
    try:
        return ExpressionDescriptor(expression, options).get_description()
    except Exception:  # cron-descriptor is stricter than cronsim about some extensions (L, W)
        return CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC)).explain()
