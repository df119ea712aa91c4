"""GitHub reporting for CI-triggered runs: the REST client (client.py), what is said (report.py), the
run's record of it (state.py), and the reporter that holds each run's token in memory (reporter.py)."""
