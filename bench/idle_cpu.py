"""How much CPU does an idle Sentri process on PostgreSQL spend, waiting for work, and how soon does it wake
when another process makes work claimable?

    python bench/idle_cpu.py [--database-url URL] [--slots 4] [--seconds 30] [--rounds 3] [--wakes 50]

Creates a scratch database next to --database-url (default: SENTRI_TEST_DATABASE_URL; dropped at the end),
starts a real Sentri process on it with --slots browser slots (SENTRI_MAX_BROWSERS), waits until its
browsers are launched and it has settled, then reads the server process's CPU time (user + system, all its
threads, from /proc; not its browsers') over --seconds, --rounds times. Prints the milliseconds of CPU per
second of each round and their median. Nothing runs meanwhile: what is left is the heartbeat and whatever
the idle workers do to find work (the target: half of 12 ms/s or less).

Then, on the same database, the wake: an engine in this process (its listener only, no workers), an idle
wait of its, and --wakes transactions from another connection that each make work claimable
(notices.work_ready) and commit. Prints the median and the largest time from the start of that commit to
the end of the wait (the target: within 100 ms). The wait is one only a wake() ends (or 10 s):
no poll of the engine's is involved.
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
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentri import create_app
from sentri.database import write
from sentri.queue import notices
from sentri.runtime import runtime
from tests.support import SentriProcess
from tests.support.processes import cpu_seconds

SETTLE_SECONDS = 10.0  # start-up work (migrations, browser launches, the first recovery) is over by then


def _wait(engine, seen: int, woke: list[float]) -> None:
    engine.wait_for_work(seen, 10)  # ends at a wake() (the listener's, for a notice) or after 10 s
    woke.append(time.perf_counter())


def wake_seconds(database_url: str, instance: Path, trials: int) -> list[float]:
    """From the start of another connection's commit that makes work claimable to the end of an idle wait."""
    app = create_app(
        {
            "SENTRI_INSTANCE_PATH": str(instance),
            "SENTRI_DATABASE_URL": database_url,
            "SENTRI_SECRET_KEY": "bench-secret-key-" + "x" * 40,
            "SENTRI_DEMO": False,
        }
    )
    engine = runtime(app).engine
    engine.listener.start()
    try:
        if not engine.listener.listening.wait(10):
            raise SystemExit("the listener did not connect")
        figures = []
        for _ in range(trials):
            woke: list[float] = []
            seen = engine.work_signal()
            waiter = threading.Thread(target=_wait, args=(engine, seen, woke))
            waiter.start()
            time.sleep(0.05)  # the wait has begun
            with app.app_context(), write():
                notices.work_ready()
                committing = time.perf_counter()
            waiter.join()
            figures.append(woke[0] - committing)
        return figures
    finally:
        engine.listener.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("SENTRI_TEST_DATABASE_URL"))
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wakes", type=int, default=50)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("needs --database-url (or SENTRI_TEST_DATABASE_URL): a PostgreSQL server")
    parts = urlsplit(args.database_url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"sentri_idle_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"SENTRI_DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
            with SentriProcess(Path(tmp) / "instance", max_browsers=args.slots, env=env) as sentri:
                time.sleep(SETTLE_SECONDS)
                figures = []
                for round_number in range(1, args.rounds + 1):
                    before, started = cpu_seconds(sentri.proc.pid), time.monotonic()
                    time.sleep(args.seconds)
                    used, elapsed = cpu_seconds(sentri.proc.pid) - before, time.monotonic() - started
                    figures.append(used * 1000 / elapsed)
                    print(
                        f"round {round_number}: {figures[-1]:.1f} ms of CPU per second ({used:.2f} s in {elapsed:.0f} s)"
                    )
            wakes = (
                wake_seconds(env["SENTRI_DATABASE_URL"], Path(tmp) / "waker", args.wakes)
                if args.wakes
                else []
            )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"idle CPU of a process with {args.slots} slots on PostgreSQL: median {statistics.median(figures):.1f} ms/s "
        "(target: 6 ms/s or less)"
    )
    if wakes:
        print(
            f"an idle process woken by another's commit: median {statistics.median(wakes) * 1000:.1f} ms, "
            f"largest {max(wakes) * 1000:.1f} ms of {len(wakes)} (target: within 100 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
