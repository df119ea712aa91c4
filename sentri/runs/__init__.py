"""Runs: everything about one execution of a project's approved tests.

lifecycle.py   start a run (every planned test a row), claim and record tests, end, abort, recover
launch.py      start a run and hand it over (wake the workers, keep the GitHub token)
options.py     what a trigger may ask for (RunOptions)
selection.py   which tests a run executes (caseIds, suiteIds, selectionStrategy)
planner.py     risk order and the budgetMinutes plan; history.py feeds it from past results
gates.py       quality gates; vitals.py Web Vitals budgets
serialize.py   verdict, status and callback bodies, a result's API form, the run page link
callbacks.py   the callback POST and the pool that sends it
hooks.py       what follows a run's end, exactly once: callback, GitHub report, waking waiters
junit.py       the JUnit XML report; stats.py the statistics the pages chart
"""

from .launch import launch
from .lifecycle import RESTARTED, abort, active_run, get, get_in_project, list_for, start
from .options import RunOptions
from .serialize import callback_payload, run_url, serialize_result, shown_verdict, status_payload, verdict

__all__ = [
    "RESTARTED", "RunOptions", "abort", "active_run", "callback_payload", "get", "get_in_project", "launch",
    "list_for", "run_url", "serialize_result", "shown_verdict", "start", "status_payload", "verdict",
]
