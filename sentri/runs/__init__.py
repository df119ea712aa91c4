"""Starting runs: what a trigger may ask for, and the one way a trigger, the web UI, a schedule and the CLI
start a run. What happens to a run after that lives by concept:

sentri/queue/     the database as the queue: a run's life (lifecycle), its tests claimed, leased and recorded
                  (claims), crawls, recovery of what dead processes held, notices to idle processes
sentri/policies/  what decides: selection, the risk planner and its history, quality gates, Web Vitals budgets,
                  the regression gate and its baseline, quarantine, and a project's thresholds as one setting
sentri/reports/   how a run looks from outside: the status and callback bodies, JUnit, chart statistics
sentri/runtime/   the threads a process owns: the engine's hooks after a run's end, callbacks, GitHub reports

runs/options.py   what a trigger may ask for (RunOptions)
runs/launch.py    start a run and hand it over (wake the workers, keep the GitHub token)
"""

from .launch import launch
from .options import RunOptions

__all__ = ["RunOptions", "launch"]
