"""Start a run and hand it over: the one way a trigger, the web UI and the CLI start runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from ..models import Project, Run, TriggerToken
from ..queue import lifecycle
from ..runtime import runtime
from .options import RunOptions

log = logging.getLogger(__name__)


def launch(
    project: Project,
    options: RunOptions,
    *,
    source: str,
    triggered_by: str,
    token: TriggerToken | None = None,
    in_transaction: Callable[[Run], None] | None = None,
) -> Run:
    """Create the run (lifecycle.start: one transaction), then wake this process's workers and keep the
    GitHub token in memory. Once the run is committed it belongs to the database: whatever fails after
    that is logged, and the run is still executed (here or by any other process). `in_transaction`: see
    lifecycle.start."""
    app = current_app._get_current_object()
    engine = runtime(app).engine
    if options.github_token and options.github is not None:
        options.github["holder"] = engine.node_id  # the one process that can post this run's report
    run = lifecycle.start(
        project, options, source=source, triggered_by=triggered_by, token=token, in_transaction=in_transaction
    )
    for hand_over in (
        lambda: options.github_token and runtime(app).github.run_started(run.id, options.github_token),
        engine.wake,
    ):
        try:
            hand_over()
        except Exception:
            log.exception("RUN-%s was started but handing it over failed; the run stands", run.id)
    return run
