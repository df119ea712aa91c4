"""What GET /health and GET /metrics read when they are asked: the database's runs and queue, and the
browser servers' status (worker/remote.py).

Everything here is read from the shared database at request time, so every replica answers with the same
numbers. The queries use the indexed columns only (runs.status, results (run_id, status)), except the
passed/failed split of completed runs, which reads their gate and Web Vitals results: one count over the
completed runs, the verdict of serialize.verdict() written in SQL (tests/test_metrics.py holds the two
to the same answer on SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Text, and_, cast, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import ACTIVE_RUN_STATUSES, PENDING_RESULT_STATUSES, TERMINAL_RUN_STATUSES, Result, Run
from .states import RunStatus
from .worker import remote

log = logging.getLogger(__name__)

# Every (status, verdict) pair a run can be in: all are exposed, zeros included, so graphs have no gaps.
RUN_SERIES = (
    ("queued", "pending"),
    ("running", "pending"),
    ("completed", "passed"),
    ("completed", "failed"),
    ("failed", "failed"),
    ("aborted", "failed"),
)


def _absent(column):
    """A JSON column holding nothing: SQL NULL, or the JSON null the ORM writes for None."""
    return or_(column.is_(None), cast(column, Text) == "null")


def _ok(column):
    """serialize.verdict()'s reading of a gate or Web Vitals result: absent, or saying passed: true."""
    return or_(_absent(column), column["passed"].as_boolean().is_(True))


# serialize.verdict() of a completed run: both results absent → no failed test; else each present one
# passed (the failed count is then the gates' business, e.g. maxFailures).
_PASSED = and_(
    _ok(Run.gate_result),
    _ok(Run.vitals_result),
    or_(Run.failed == 0, ~_absent(Run.gate_result), ~_absent(Run.vitals_result)),
)


def run_counts() -> dict[tuple[str, str], int]:
    """Return how many runs are in each (status, verdict) of RUN_SERIES."""
    counts = dict.fromkeys(RUN_SERIES, 0)
    by_status = dict(db.session.execute(select(Run.status, func.count(Run.id)).group_by(Run.status)).all())
    passed = (
        db.session.scalar(select(func.count(Run.id)).where(Run.status == RunStatus.COMPLETED, _PASSED)) or 0
    )
    for status in ACTIVE_RUN_STATUSES:
        counts[(status, "pending")] = by_status.get(status, 0)
    counts[("completed", "passed")] = passed
    counts[("completed", "failed")] = by_status.get("completed", 0) - passed
    for status in TERMINAL_RUN_STATUSES:
        if status != "completed":
            counts[(status, "failed")] = by_status.get(status, 0)
    return counts


def queue_depth() -> dict[str, int]:
    """Return the tests queued and running in active runs, and how many runs are active."""
    rows = dict(
        db.session.execute(
            select(Result.status, func.count(Result.id))
            .join(Run, Run.id == Result.run_id)
            .where(Run.status.in_(ACTIVE_RUN_STATUSES), Result.status.in_(PENDING_RESULT_STATUSES))
            .group_by(Result.status)
        ).all()
    )
    active = db.session.scalar(select(func.count(Run.id)).where(Run.status.in_(ACTIVE_RUN_STATUSES))) or 0
    return {
        "queuedTests": rows.get("queued", 0),
        "runningTests": rows.get("running", 0),
        "activeRuns": active,
    }


def browser_servers() -> list[dict[str, Any]] | None:
    """Return worker/remote.py's rows, or None when it could not say (logged; never a failed request)."""
    try:
        return list(remote.status())
    except Exception:  # another module's failure must not take /health or /metrics down with it
        log.exception("the browser servers' status could not be read")
        return None


def health() -> tuple[dict[str, Any], int]:
    """The GET /health body and status: 503 when the database does not answer, "degraded" (200) when
    browser servers are configured and none of them is up."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
        body["database"] = {"ok": True}
        body["queue"] = queue_depth()
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("health: the database did not answer")
        body["database"] = {"ok": False, "error": "The database did not answer."}
    servers = browser_servers()
    body["browserServers"] = servers or []
    if servers is None:
        body["status"] = "degraded"
        body["browserServersError"] = (
            "The browser servers' status could not be read; the server log says why."
        )
    elif servers and not any(row.get("state") == "up" for row in servers):
        body["status"] = "degraded"
    if not body["database"]["ok"]:
        body["status"] = "error"
        body["error"] = body["database"]["error"]
        return body, 503
    return body, 200


def _slots(row: dict[str, Any]) -> tuple[int, int] | None:
    """(busy, free) of one browser server, None when its busy slots are not known; a server that is not up
    has no free slot."""
    if row.get("busy") is None:
        return None
    busy = int(row["busy"])
    free = max(int(row.get("capacity") or 0) - busy, 0) if row.get("state") == "up" else 0
    return busy, free


class ScrapeCollector:
    """The gauges read at scrape time (in the process answering the scrape only, so never summed)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._database()
        yield from self._browsers()

    def _database(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "sentri_database_up", "1 when the database answered this scrape's queries, else 0."
        )
        try:
            counts, depth = run_counts(), queue_depth()
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        runs = GaugeMetricFamily(
            "sentri_runs",
            "Runs in the database by status and verdict (pending while active).",
            labels=["status", "verdict"],
        )
        for (status, verdict), count in counts.items():
            runs.add_metric([status, verdict], count)
        yield runs
        yield GaugeMetricFamily(
            "sentri_tests_queued", "Tests of active runs waiting for a worker.", value=depth["queuedTests"]
        )
        yield GaugeMetricFamily(
            "sentri_tests_running", "Tests of active runs a worker is running.", value=depth["runningTests"]
        )
        yield GaugeMetricFamily("sentri_runs_active", "Runs queued or running.", value=depth["activeRuns"])

    def _browsers(self) -> Iterator[GaugeMetricFamily]:
        servers = browser_servers()
        if servers is None:
            return
        slots = GaugeMetricFamily(
            "sentri_browser_slots",
            "Browser slots per endpoint, busy or free, counted in "
            'the database over every process ("local": this process\'s own browsers).',
            labels=["endpoint", "state"],
        )
        up = GaugeMetricFamily(
            "sentri_browser_server_up", "1 when the browser endpoint answers, else 0.", labels=["endpoint"]
        )
        for row in servers:
            endpoint = str(row.get("endpoint"))
            counted = _slots(row)
            if counted is not None:
                slots.add_metric([endpoint, "busy"], counted[0])
                slots.add_metric([endpoint, "free"], counted[1])
            up.add_metric([endpoint], 1 if row.get("state") == "up" else 0)
        yield slots
        yield up
