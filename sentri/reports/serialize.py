"""How a run looks from outside: its verdict, the status and callback bodies, a result's API form, and
the link to its page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from ..config import public_url
from ..models import ACTIVE_RUN_STATUSES, Project, Result, Run, TestCase, isoformat
from ..review import views
from ..settings import settings
from ..states import RunStatus


def run_url(app: Flask, run: Run) -> str:
    """Return the link to a run's page, on the public URL the trigger was made through."""
    base = run.options.get("publicUrl") or public_url(settings(app))
    return f"{base.rstrip('/')}/runs/{run.public_id}"


def verdict(run: Run) -> str:
    """Return pending / passed / failed as the spec defines the verdict."""
    return verdict_of(run.status, run.failed, run.gate_result, run.vitals_result)


def verdict_of(status: str, failed: int, gate_result: dict | None, vitals_result: dict | None) -> str:
    """The verdict from the four columns it depends on (a list filters by it without loading whole runs)."""
    if status in ACTIVE_RUN_STATUSES:
        return "pending"
    if status != RunStatus.COMPLETED:
        return "failed"
    if gate_result is None and vitals_result is None:
        return "passed" if failed == 0 else "failed"
    gates_ok = gate_result is None or gate_result.get("passed", False)
    vitals_ok = vitals_result is None or vitals_result.get("passed", False)
    return "passed" if gates_ok and vitals_ok else "failed"


def shown_verdict(run: Run) -> str:
    """The verdict as the pages show and colour it: an aborted run is `aborted` (its tests did not all run,
    so it says nothing of them), else `verdict` (the API's stays failed, as the spec has it)."""
    return "aborted" if run.status == RunStatus.ABORTED else verdict(run)


def status_payload(run: Run, run_url: str) -> dict[str, Any]:
    """Return the status body of the spec (the seed's poll loops read it)."""
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.public_id,
        "runId": run.public_id,
        "projectId": Project.format_id(run.project_id),
        # A queued run is still "running" on the wire: the seed's loop waits until status != running.
        "status": "running" if run.is_active else run.status,
        # queued / crawling (crawl: true scans the site first) / running; None once it ended.
        "phase": (run.phase or run.status) if run.is_active else None,
        "verdict": verdict(run),
        "passed": run.passed,
        "failed": run.failed,
        "skipped": run.skipped,
        "flaky": run.flaky,
        # Executed tests that were quarantined: reported, counted in none of passed / failed / flaky.
        "quarantined": run.quarantined,
        "total": run.total,
        "createdAt": isoformat(run.created_at),
        "startedAt": isoformat(run.started_at),
        "finishedAt": isoformat(run.finished_at),
        "duration": duration,
        "error": run.error,
        "gateResult": run.gate_result,
        "webVitalsResult": run.vitals_result,
        "integrations": run.integrations or {},
        "branch": run.branch,
        "commitSha": run.commit_sha,
        "url": run_url,
    }


def callback_payload(run: Run, run_url: str) -> dict[str, Any]:
    """Return the body POSTed to the run's callbackUrl."""
    status = status_payload(run, run_url)
    # The seed's callback body, exactly (a quarantined count is in the status body).
    keys = (
        "runId",
        "status",
        "passed",
        "failed",
        "total",
        "error",
        "gateResult",
        "webVitalsResult",
        "verdict",
        "url",
    )
    return {key: status[key] for key in keys}


def serialize_result(
    result: Result,
    screenshot_url: str | None,
    trace_url: str | None = None,
    image_url: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Return the API form of one result; `image_url(sha)` addresses its screenshot steps' pictures."""
    return {
        "testId": TestCase.format_id(result.test_id),
        "testName": result.test_name,
        # "page": a page check of a crawl: true run (pageUrl is the page it loads); "test" otherwise.
        "kind": "page" if result.page_url else "test",
        "pageUrl": result.page_url,
        "position": result.position,
        "status": result.status,
        "skipReason": result.skip_reason,
        "error": result.error,
        "failingStep": result.failing_step,
        "durationMs": result.duration_ms,
        "attempts": result.attempts,
        "flaky": result.flaky,
        "quarantined": result.quarantined,
        "baseUrl": result.base_url,
        # The Sentri process that ran it (host:pid:id), for runs spread over several processes.
        "executedBy": result.owner,
        "vitals": result.vitals,
        "screenshotUrl": screenshot_url,
        "traceUrl": trace_url,
        # expect_screenshot steps (status new / matched / changed / rejected) and targets that healed.
        "snapshots": views.snapshots(result.snapshots, image_url),
        "healed": views.healed(result.healed),
        "startedAt": isoformat(result.started_at),
        "finishedAt": isoformat(result.finished_at),
    }
