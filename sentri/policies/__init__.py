"""What decides, as pure rules over the database's facts: which tests run, in which order, and whether a
run passes.

selection.py        which tests a run executes (caseIds, suiteIds, selectionStrategy)
planner.py          risk order and the budgetMinutes plan; history.py feeds it from past results
gates.py            quality gates; vitals.py Web Vitals budgets and ratings
regression.py       Web Vitals regressions against a baseline; vitals_baseline.py which runs that is
quarantine.py       flaky tests that keep running but never block a deploy
thresholds.py       a project's gates, budgets, regression and quarantine settings read and changed as one
"""
