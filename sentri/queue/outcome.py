"""What a worker hands the queue when it is done with a test: the shapes at the executor -> record boundary.

``Outcome`` holds the columns of the test's Result row (snake_case, as the model names them); ``Attempt`` is one
entry of its ``attempts`` JSON column, which the API shows as stored (camelCase, like every field it shows).
Each key has one spelling: ``failing_step`` is a column, ``failingStep`` a key of the stored JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, Required, TypedDict


class Attempt(TypedDict):
    """One attempt at a test, as Result.attempts stores it and the API shows it."""

    status: str  # passed, failed, lost (run again once) or "handed back" (its process stopped)
    error: str | None
    failingStep: int | None  # numbered from 1, like the test format
    durationMs: int | None  # None when it was never timed (lost, handed back, given up)
    browserServer: NotRequired[str]  # the browser server that ran it, when it was a remote one


class Outcome(TypedDict, total=False):
    """A finished test's Result columns, as records.record() writes them; only `status` is always there.

    test_id, test_name and position name the row (they are not written) and hints go to review."""

    status: Required[str]  # passed, failed or skipped
    skip_reason: str
    error: str | None
    failing_step: int | None
    duration_ms: int
    attempts: list[Attempt]
    flaky: bool
    base_url: str
    vitals: list[dict[str, Any]]  # a row per page the test visited
    screenshot: str | None  # a path, until the artifact store takes the file and keeps its key
    trace: str | None
    snapshots: list[dict[str, Any]] | None
    healed: list[dict[str, Any]] | None
    hints: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime
    test_id: int | None
    test_name: str
    position: int


def attempt(
    status: str, error: str | None, failing_step: int | None = None, duration_ms: int | None = None
) -> Attempt:
    """An attempt's JSON from its snake_case parts."""
    return {"status": status, "error": error, "failingStep": failing_step, "durationMs": duration_ms}
