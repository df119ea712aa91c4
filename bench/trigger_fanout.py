"""How long do runs wait for a worker when many projects trigger at once, with one Sentri process and with two?

    SENTRI_BENCH_DATABASE_URL=postgresql://... python bench/trigger_fanout.py [--projects N] [--rounds R]

Starts the fixture site and, on a fresh PostgreSQL database (several processes need one), real Sentri
processes (`python app.py`, SENTRI_MAX_BROWSERS=--browsers each, default 1: on a 2-core machine two
processes of two browsers each are four Chromiums on two cores, and the CPU, not Sentri, sets the pace). N projects (default 20) of one test each
(goto a page, click, expect) are triggered at once from N threads; for every run this measures the time
from receiving its 202 to the moment a worker claimed its test (the row's started_at, read from the
database: both clocks are this machine's). Each round triggers every project once, with one process
serving, then with two; the first round is a warm-up and is not counted.

The baseline is one process, what a team runs before it scales out: the second process should cut the
wait for the runs at the back of the queue (p99) roughly in half. Prints p50 and p99 of both and their
ratio; nothing is asserted. Uses SENTRI_TEST_DATABASE_URL when SENTRI_BENCH_DATABASE_URL is not set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import FixtureSite, SentriProcess, http_session, page_test, write_tests

RUN_TIMEOUT = 180.0


def _database(url: str):
    """Create a throwaway database next to `url`'s; return (its URL, a function that drops it)."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"sentri_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _claimed_at(database: str, run_ids: list[int]) -> dict[int, float]:
    """Epoch seconds at which each run's first test was claimed."""
    import psycopg

    with psycopg.connect(urlunsplit(urlsplit(database)._replace(scheme="postgresql"))) as conn:
        rows = conn.execute(
            "SELECT run_id, min(started_at) FROM results WHERE run_id = ANY(%s) GROUP BY run_id", (run_ids,)
        ).fetchall()
    return {run_id: started.replace(tzinfo=UTC).timestamp() for run_id, started in rows}


def fan_out(servers: list[SentriProcess], projects: list[tuple[str, str]], database: str) -> list[float]:
    """Trigger every project at once (spread over the servers); return each run's wait, in ms."""
    barrier = threading.Barrier(len(projects))
    accepted: dict[int, float] = {}
    lock = threading.Lock()
    errors: list[str] = []

    def fire(index: int, project_id: str, token: str) -> None:
        server = servers[index % len(servers)]
        http = http_session()
        try:
            barrier.wait(timeout=60)
            response = http.post(
                f"{server.url}/api/v1/projects/{project_id}/trigger",
                headers={"Authorization": f"Bearer {token}"},
                json={},
                timeout=60,
            )
            at = time.time()
            if response.status_code != 202:
                errors.append(f"{project_id}: {response.status_code} {response.text[:200]}")
                return
            with lock:
                accepted[int(response.json()["runId"][4:])] = at
        finally:
            http.close()

    threads = [threading.Thread(target=fire, args=(i, pid, tok)) for i, (pid, tok) in enumerate(projects)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    http = http_session()
    deadline = time.monotonic() + RUN_TIMEOUT
    for project_id, _token in projects:  # wait until every run ended, so the next round starts clean
        while True:
            body = http.get(
                f"{servers[0].url}/api/v1/projects/{project_id}/runs",
                headers=servers[0].user_headers(),
                timeout=30,
            ).json()
            if body and body[0]["status"] not in ("running", "queued"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{project_id} still running after {RUN_TIMEOUT}s")
            time.sleep(0.2)
    claimed = _claimed_at(database, list(accepted))
    return [max(0.0, claimed[run_id] - at) * 1000 for run_id, at in accepted.items()]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=20, help="projects triggered at once (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds per setting (default 3)")
    parser.add_argument("--browsers", type=int, default=1, help="SENTRI_MAX_BROWSERS per process (default 1)")
    args = parser.parse_args(argv)
    url = os.environ.get("SENTRI_BENCH_DATABASE_URL") or os.environ.get("SENTRI_TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        print(
            "bench/trigger_fanout.py needs SENTRI_BENCH_DATABASE_URL=postgresql://... (several processes share it)"
        )
        return 2
    database, drop = _database(url)
    env = {"SENTRI_DATABASE_URL": database, "SENTRI_TRIGGER_RATE_LIMIT": "100000 per hour"}
    waits: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="sentri-fanout-") as tmp, FixtureSite() as site:
        first = SentriProcess(Path(tmp) / "a" / "instance", max_browsers=args.browsers, env=env).start()
        second = SentriProcess(Path(tmp) / "b" / "instance", max_browsers=args.browsers, env=env)
        second.admin_email, second.admin_password = first.admin_email, first.admin_password
        try:
            projects = []
            for n in range(args.projects):
                project_id = first.cli("projects", "create", f"fan{n}", "--base-url", site.url)
                path = write_tests(Path(tmp) / f"fan{n}.yaml", [page_test(f"f{n}", site.url)])
                first.cli("tests", "import", "--project", project_id, str(path), "--approve")
                projects.append((project_id, first.cli("tokens", "create", "--project", project_id)))
            fan_out([first], projects, database)  # warm-up: browsers, connections, caches
            for round_number in range(args.rounds):
                if second.running:
                    second.stop()
                waits[1] += fan_out([first], projects, database)
                second.start()
                if round_number == 0:
                    fan_out([first, second], projects, database)  # warm the second process too
                waits[2] += fan_out([first, second], projects, database)
        finally:
            first.stop()
            second.stop()
            drop()
    print(
        f"{args.projects} projects triggered at once, {args.rounds} rounds, SENTRI_MAX_BROWSERS={args.browsers} "
        f"per process, {os.cpu_count()} CPUs"
    )
    print(f"{'202 -> first claimed test':<30}{'p50 ms':>10}{'p99 ms':>10}")
    for count in (1, 2):
        label = "one process (baseline)" if count == 1 else "two processes"
        print(f"{label:<30}{statistics.median(waits[count]):>10.0f}{_percentile(waits[count], 0.99):>10.0f}")
    p50 = statistics.median(waits[2]) / max(statistics.median(waits[1]), 1e-9)
    p99 = _percentile(waits[2], 0.99) / max(_percentile(waits[1], 0.99), 1e-9)
    print(f"ratio two / one: p50 {p50:.2f}, p99 {p99:.2f} (below 1: the second process shortens the queue)")
    print(f"measured {datetime.now(UTC).isoformat(timespec='seconds')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
