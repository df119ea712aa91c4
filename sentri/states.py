"""The states a run, a test's result and a crawl go through, as their `status` columns store them.

Each member is the very string stored and shown (a StrEnum member equals its value, so rows read back as plain
strings compare equal to it). A run and a crawl go queued -> running -> completed, failed or aborted; a test's
result goes queued -> running -> passed or failed, or is skipped (skip_reason says why).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # ended unstopped: its counts, gates and budgets say how it went
    FAILED = "failed"  # it could not go on (no browser, a secret that cannot be read): its error says why
    ABORTED = "aborted"  # someone stopped it


class ResultStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class CrawlStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
