"""A run's GitHub record (`runs.integrations["github"]`): what will be, and what was, posted where.
It never holds the token: that lives in the memory of the process the trigger reached (reporter.py)."""

from __future__ import annotations

from typing import Any

from ..database import write
from ..extensions import db
from ..models import Run

LOST_TOKEN = (
    "The server restarted before the run ended. The GitHub token is held in memory for its run only, "
    "so neither the comment nor the final commit status could be posted (a pending status stays pending "
    "on GitHub until the next run)."
)


def initial_state(repo: str | None, pr: int | None, sha: str | None, token: str | None) -> dict[str, Any]:
    """The run's GitHub record when it is created (the token itself is never part of it)."""
    state = {"repo": repo, "prNumber": pr, "commitSha": sha, "comment": None, "commitStatus": None}
    if token:
        return state | {"state": "pending", "message": "Sentri posts to GitHub when the run ends."}
    if token == "":
        why = (
            "githubToken was empty (pull requests from forks get no secrets), so nothing is posted to GitHub."
        )
    else:
        why = "No githubToken was given, so nothing is posted to GitHub."
    return state | {"state": "skipped", "message": why}


def record(run_id: int, **changes: Any) -> None:
    """Merge `changes` into the run's GitHub record."""
    with write():
        # Locked: notification deliveries write the same column from other threads and processes.
        run = db.session.get(Run, run_id, populate_existing=True, with_for_update=True)
        if run is None:
            return
        integrations = dict(run.integrations or {})
        integrations["github"] = {**integrations.get("github", {}), **changes}
        run.integrations = integrations
