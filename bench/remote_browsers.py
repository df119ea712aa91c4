"""What do Playwright browser servers cost, and what do two of them give?

    python bench/remote_browsers.py [--tests 20] [--rounds 3] [--slots 2]

Starts the fixture site, then a real Sentri process three ways, each running the same N tests (goto
/page/n, click "Go n", expect "Done n") with parallelWorkers = the slots it has, --rounds times (after a
warm-up run that is not counted):

* local:   SENTRI_MAX_BROWSERS=slots, browsers launched by Sentri (the usual set-up);
* one:     one `playwright run-server` on loopback with `#slots` (SENTRI_BROWSER_SERVERS);
* two:     two servers with `#slots` each, parallelWorkers 2*slots.

Prints the median wall time of a run (trigger to terminal state), the overhead ratio one/local (the same
parallelism over a WebSocket), the throughput ratio two/one (tests per second), and one slot's tests per
minute, and the database work per test (SQLite; PostgreSQL with --database-url, an empty scratch
database: it is migrated and filled). On this 2-core machine every browser shares the same two cores: a second server adds slots, not
CPU, so the throughput ratio shows the ceiling of one machine, not what a second machine would add
(docs/scaling.md extrapolates from the per-slot figure). Exits 1 when a run does not pass.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import overhead_breakdown
from sentri.worker.browsers import find_chromium
from tests.support import FixtureSite, SentriProcess, make_tests
from tests.support.browser_servers import BrowserServer


def timed_run(sentri: SentriProcess, project_id: str, token: str, parallel: int, n_tests: int) -> float:
    started = time.monotonic()
    body = sentri.run_to_end(project_id, token, {"dialsConfig": {"parallelWorkers": parallel}})
    elapsed = time.monotonic() - started
    if body["status"] != "completed" or body["passed"] != n_tests:
        raise RuntimeError(
            f"{body['runId']} ended {body['status']} with {body['passed']}/{n_tests} passed: {body['error']}"
        )
    return elapsed


def measure(label: str, env: dict[str, str], parallel: int, args, site: FixtureSite, tmp: Path) -> float:
    with SentriProcess(tmp / label / "instance", env=env) as sentri:
        project_id = sentri.cli("projects", "create", label, "--base-url", site.url)
        sentri.cli(
            "tests",
            "import",
            "--project",
            project_id,
            str(make_tests(args.tests, site.url, tmp / f"{label}.yaml")),
            "--approve",
        )
        token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
        timed_run(
            sentri, project_id, token, parallel, args.tests
        )  # warm-up: browsers connected, caches filled
        times = [timed_run(sentri, project_id, token, parallel, args.tests) for _ in range(args.rounds)]
    median = statistics.median(times)
    print(
        f"  {label:<6} parallelWorkers {parallel}: {median:6.2f} s per run "
        f"({', '.join(f'{t:.2f}' for t in times)}), {args.tests / median:5.1f} tests/s"
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--database-url", help="an empty scratch PostgreSQL database to time claims on too")
    args = parser.parse_args()
    chromium = find_chromium().executable or ""
    slots = args.slots
    print(f"{args.tests} tests per run, median of {args.rounds} runs each")
    with tempfile.TemporaryDirectory() as tmp, FixtureSite() as site:
        tmp_path = Path(tmp)
        local = measure("local", {"SENTRI_MAX_BROWSERS": str(slots)}, slots, args, site, tmp_path)
        with BrowserServer() as first:
            remote_env = {"SENTRI_BROWSER_SERVER_CHROMIUM": chromium}
            one = measure(
                "one",
                {**remote_env, "SENTRI_BROWSER_SERVERS": f"{first.url}#{slots}"},
                slots,
                args,
                site,
                tmp_path,
            )
            with BrowserServer() as second:
                servers = f"{first.url}#{slots},{second.url}#{slots}"
                two = measure(
                    "two", {**remote_env, "SENTRI_BROWSER_SERVERS": servers}, 2 * slots, args, site, tmp_path
                )
    print()
    print(f"overhead, one server / local browsers (same parallelism): {one / local:.2f}")
    print(f"throughput, two servers / one server:                   {one / two:.2f}")
    print(
        f"one slot, local: {60 * args.tests / local / slots:.0f} tests per minute; "
        f"on a server: {60 * args.tests / one / slots:.0f}"
    )
    sqlite_ms = overhead_breakdown.database_ms_per_test(100)
    print(f"database work per test (look, claim, build, record), SQLite: {sqlite_ms:.1f} ms")
    if args.database_url:
        pg_ms = overhead_breakdown.database_ms_per_test(100, args.database_url)
        print(f"database work per test, PostgreSQL ({args.database_url.rsplit('@', 1)[-1]}): {pg_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
