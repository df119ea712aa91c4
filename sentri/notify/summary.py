"""What an alert says about a run, before any service's format: one plain dict (the `webhook` kind's body)
that the Slack, Teams, Discord and e-mail formats (formats.py) each lay out their own way."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from ..extensions import db
from ..github.report import clip
from ..models import Project, Result, Run, TestCase, isoformat, utcnow
from ..reports.serialize import run_url, shown_verdict
from ..states import ResultStatus
from ..ui import describe_step

TOP_FAILURES = 5
REASON_MAX = 300
HEADLINES = {"failed": "failed", "recovered": "recovered", "every": "finished", "test": "test message"}
_VITAL_UNITS = {"lcp": " ms", "inp": " ms", "ttfb": " ms", "fcp": " ms", "cls": ""}


def source_of(run: Run) -> dict[str, Any]:
    """Where the run came from: its schedule, or the branch and commit (and who triggered it)."""
    schedule = (run.options or {}).get("schedule")
    if run.trigger_source == "schedule" and schedule:
        return {
            "kind": "schedule",
            "scheduleId": schedule.get("id"),
            "scheduleName": schedule.get("name"),
            "text": f"Schedule {schedule.get('name')}",
        }
    text = run.branch or "the baseline branch"
    if run.commit_sha:
        text += f" @ {run.commit_sha[:7]}"
    return {
        "kind": run.trigger_source,
        "triggeredBy": run.triggered_by,
        "branch": run.branch,
        "commitSha": run.commit_sha,
        "text": f"{text} (triggered by {run.triggered_by or run.trigger_source})",
    }


def _failures(run: Run) -> list[dict[str, Any]]:
    rows = list(
        db.session.scalars(
            select(Result)
            .where(
                Result.run_id == run.id, Result.status == ResultStatus.FAILED, Result.quarantined.is_(False)
            )
            .order_by(Result.position)
            .limit(TOP_FAILURES)
        )
    )
    steps = {
        t.id: t.steps
        for t in db.session.scalars(
            select(TestCase).where(TestCase.id.in_([r.test_id for r in rows if r.test_id]))
        )
    }
    found = []
    for result in rows:
        step = None
        test_steps = steps.get(result.test_id) or []
        if result.failing_step and 0 < result.failing_step <= len(test_steps):
            step = f"{result.failing_step}: {clip(describe_step(test_steps[result.failing_step - 1]), 100)}"
        found.append(
            {
                "testId": TestCase.format_id(result.test_id),
                "testName": result.test_name,
                "pageUrl": result.page_url,
                "step": step,
                "error": clip(result.error or "failed", REASON_MAX),
            }
        )
    return found


def violations(run: Run) -> list[str]:
    """The run's gate, budget and regression violations, one sentence each."""
    found = []
    gate = run.gate_result or {}
    for v in gate.get("violations", []) if not gate.get("passed", True) else []:
        found.append(
            f"Quality gate {v.get('rule')}: threshold {v.get('threshold')}, actual {v.get('actual')}"
        )
    vitals = run.vitals_result or {}
    for v in vitals.get("violations", []) if not vitals.get("passed", True) else []:
        rule = str(v.get("rule"))
        unit = _VITAL_UNITS.get(rule.removesuffix("_regression"), "")
        where = f" on {v.get('url')}" if v.get("url") else ""
        if rule.endswith("_regression"):
            found.append(
                f"{rule.removesuffix('_regression').upper()} regressed: median {v.get('actual')}{unit} vs "
                f"baseline {v.get('baseline')}{unit}{where}"
            )
        else:
            found.append(
                f"Budget {rule.upper()}: {v.get('actual')}{unit} over {v.get('threshold')}{unit}{where}"
            )
    return found


def summarize(app: Flask, run: Run, event: str) -> dict[str, Any]:
    """The alert about a finished run, for `event` (failed, recovered, every)."""
    project = db.session.get(Project, run.project_id)
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 1)
    verdict = shown_verdict(run)
    source = source_of(run)
    return {
        "event": event,
        "verdict": verdict,
        "headline": f"{project.name}: {source.get('scheduleName') or run.public_id} {HEADLINES.get(event, verdict)}"
        + (f" ({verdict})" if event == "every" else ""),
        "project": {"id": project.public_id, "name": project.name},
        "source": source,
        "run": {
            "id": run.public_id,
            "status": run.status,
            "url": run_url(app, run),
            "browser": run.browser,
            "device": run.device,
            "passed": run.passed,
            "failed": run.failed,
            "skipped": run.skipped,
            "flaky": run.flaky,
            "quarantined": run.quarantined,
            "total": run.total,
            "durationSeconds": duration,
            "error": run.error,
            "finishedAt": isoformat(run.finished_at),
        },
        "failures": _failures(run),
        "violations": violations(run),
    }


def sample(project: Project, channel_id: str, url: str) -> dict[str, Any]:
    """A made-up alert for POST /notifications/:id/test: the shape of a real one, saying it is a test."""
    return {
        "event": "test",
        "verdict": "failed",
        "headline": f"{project.name}: test message from Sentri ({channel_id})",
        "project": {"id": project.public_id, "name": project.name},
        "source": {"kind": "test", "text": "A test of this channel: no run behind it"},
        "run": {
            "id": "RUN-0",
            "status": "completed",
            "url": url,
            "browser": "chromium",
            "device": "desktop",
            "passed": 9,
            "failed": 1,
            "skipped": 0,
            "flaky": 0,
            "quarantined": 0,
            "total": 10,
            "durationSeconds": 42.0,
            "error": None,
            "finishedAt": isoformat(utcnow()),
        },
        "failures": [
            {
                "testId": "TST-0",
                "testName": "Checkout shows the total",
                "pageUrl": None,
                "step": '3: expect_text h1 "Total"',
                "error": "The text did not appear within 5 s.",
            }
        ],
        "violations": ["Quality gate minPassRate: threshold 95, actual 90.0"],
    }
