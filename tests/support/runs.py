"""Runs written straight into the database, for pages, reports and charts to show without a browser."""

from __future__ import annotations

from sentri.database import write
from sentri.extensions import db
from sentri.models import Project, Result, Run, utcnow
from sentri.queue import ending
from sentri.runs.options import RunOptions


def recorded_run(
    project: Project, results: list[dict], *, status: str = "completed", options: RunOptions | None = None
) -> Run:
    """Create a run whose rows already hold these outcomes (Result fields; `status` required, `test_name`
    defaulting to "Test n") and end it the one way runs end (ending.end: gates, budgets, flaky scores).
    `status` "aborted" or "failed" ends it as a stopped run would."""
    options = options or RunOptions()
    now = utcnow()
    with write():
        run = Run(
            project_id=project.id,
            status="running",
            trigger_source="user",
            triggered_by="USR-1",
            options={**options.as_json(), "selection": options.selection.describe([])},
            plan=[],
            total=len(results),
            parallel=1,
            created_at=now,
            started_at=now,
            stop_reason=status if status in ("aborted", "failed") else None,
            branch=options.branch,
            commit_sha=options.commit_sha,
            browser=options.browser,
            device=options.device,
        )
        db.session.add(run)
        db.session.flush()
        for position, fields in enumerate(results, start=1):
            row = {
                "test_name": f"Test {position}",
                "attempts": [],
                "started_at": now,
                "finished_at": now,
                **fields,
            }
            db.session.add(Result(run_id=run.id, position=position, **row))
            if row.get("quarantined") and row["status"] != "skipped":  # as records._set_outcome counts
                run.quarantined += 1
                continue
            setattr(run, row["status"], getattr(run, row["status"]) + 1)
            run.flaky += bool(row.get("flaky"))
        db.session.flush()
        ending.end(run.id)
    return run
