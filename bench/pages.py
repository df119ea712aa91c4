"""How fast do the heaviest UI pages render, next to CI's status poll on the same data?

    python bench/pages.py [--requests N]

Builds an app on a throwaway instance folder (migrated SQLite), fills one project with 500 tests
and 1,000 finished runs (20 results each with Web Vitals; the newest run has a result for all 500
tests), logs in, and requests each page N times (default 50) through Flask's test client, in
process, so only the server's work is timed:

* the Runs tab (history page 1, the pass-rate and Web Vitals charts over the last 30 runs),
* the newest run's page (500 results),
* the Tests tab (page 1 of 500, with each test's last result),
* the status API `GET /api/v1/projects/PRJ-1/trigger/runs/RUN-1000` (Bearer trigger token), the baseline.

Prints p50 / p95 in ms for each, the p95 ratio to the status API, and how many full (generation 2)
garbage collections ran during each series: on pages that allocate a lot, a full collection of this
process's heap (~90 ms here) lands in about one request in twenty and is what p95 then shows.
Exits 1 when a request fails.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TESTS = 500
RUNS = 1000
RESULTS_PER_RUN = 20
PASSWORD = "correct horse battery"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1] * 1000


def seed(app) -> str:
    """Fill the database; return a trigger token of the project."""
    from sentri import projects, tokens, users
    from sentri.extensions import db
    from sentri.models import Result, Run, TestCase, utcnow

    with app.app_context():
        users.create_user("admin@example.com", PASSWORD, role="admin")
        project = projects.create("Bench", "http://127.0.0.1:9")
        steps = [{"action": "goto", "url": "/"}, {"action": "expect_title", "title": "OK"}]
        db.session.add_all(
            TestCase(
                project_id=project.id,
                name=f"Test {n}",
                tags=["smoke"] if n % 10 == 0 else [],
                steps=steps,
                review_status="approved",
            )
            for n in range(TESTS)
        )
        db.session.commit()
        test_ids = [t.id for t in db.session.query(TestCase.id).order_by(TestCase.id)]
        start = utcnow() - timedelta(days=30)
        for number in range(RUNS):
            began = start + timedelta(minutes=30 * number)
            last = number == RUNS - 1
            chosen = test_ids if last else test_ids[(number * RESULTS_PER_RUN) % TESTS :][:RESULTS_PER_RUN]
            failed = sum(1 for i in range(len(chosen)) if (i + number) % 17 == 0)
            run = Run(
                project_id=project.id,
                status="completed",
                trigger_source="token",
                triggered_by="TOK-1",
                options={},
                total=len(chosen),
                passed=len(chosen) - failed,
                failed=failed,
                created_at=began,
                started_at=began,
                finished_at=began + timedelta(seconds=95),
            )
            db.session.add(run)
            db.session.flush()
            db.session.add_all(
                Result(
                    run_id=run.id,
                    test_id=test_id,
                    test_name=f"Test {test_id}",
                    position=i + 1,
                    status="failed" if (i + number) % 17 == 0 else "passed",
                    error="expected title OK" if (i + number) % 17 == 0 else None,
                    failing_step=2 if (i + number) % 17 == 0 else None,
                    duration_ms=900 + i,
                    attempts=[],
                    vitals=[
                        {
                            "url": "http://127.0.0.1:9/",
                            "lcp": 1800.0 + i,
                            "cls": 0.02,
                            "inp": None,
                            "ttfb": 120.0,
                        }
                    ],
                )
                for i, test_id in enumerate(chosen)
            )
            if number % 100 == 99:
                db.session.commit()
        db.session.commit()
        _token, plaintext = tokens.create(project, label="bench")
        return plaintext


FULL_COLLECTIONS: list[int] = []


def measure(client, url: str, count: int, headers: dict | None = None) -> tuple[list[float], int]:
    client.get(url, headers=headers)  # warm caches and templates
    before = len(FULL_COLLECTIONS)
    timings = []
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return timings, len(FULL_COLLECTIONS) - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    gc.callbacks.append(
        lambda phase, info: phase == "start" and info["generation"] == 2 and FULL_COLLECTIONS.append(1)
    )

    from flask_migrate import upgrade

    from sentri import create_app
    from sentri.runtime import runtime

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TESTING": True,
                "SENTRI_INSTANCE_PATH": str(Path(folder) / "instance"),
                "RATELIMIT_ENABLED": False,
                "SENTRI_SECRET_KEY": "bench-secret-key-not-for-production",
                "SENTRI_DEMO": False,
            }
        )
        with app.app_context():
            upgrade()
        began = time.perf_counter()
        token = seed(app)
        print(f"seeded {TESTS} tests and {RUNS} runs in {time.perf_counter() - began:.1f} s")
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": csrf})
        bearer = {"Authorization": f"Bearer {token}"}
        rows = [
            (
                "status API (baseline)",
                measure(client, "/api/v1/projects/PRJ-1/trigger/runs/RUN-1000", args.requests, bearer),
            ),
            ("runs tab", measure(client, "/projects/PRJ-1/runs", args.requests)),
            ("run page, 500 results", measure(client, "/runs/RUN-1000", args.requests)),
            ("tests tab", measure(client, "/projects/PRJ-1/tests", args.requests)),
        ]
        runtime(app).engine.shutdown(0)
    baseline = percentile(rows[0][1][0], 95)
    print(f"{'page':<24}{'p50 ms':>10}{'p95 ms':>10}{'p95 / status API':>18}{'full GCs':>10}")
    for name, (timings, collections) in rows:
        p95 = percentile(timings, 95)
        print(
            f"{name:<24}{percentile(timings, 50):>10.1f}{p95:>10.1f}{p95 / baseline:>17.1f}x{collections:>10}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
