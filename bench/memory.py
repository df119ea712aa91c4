"""Does a Sentri server's memory stay flat as it runs more and more tests?

    python bench/memory.py [--runs 50] [--tests 20] [--early 5]

Starts a real Sentri process (SENTRI_MAX_BROWSERS=2) on the fixture site, imports N tests, then runs them
R times (parallelWorkers 2, one run after the other, each polled to its end). After run `--early` (default 5)
and after the last one it reads the resident memory (VmRSS from /proc) of the server process, and of the
server with its browsers (every process descended from it). Prints both, and the ratio last/early of the
server's own memory: the target is <= 1.10 (printed, not asserted). Linux only (/proc).
A warm-up run comes first, so that one-off allocations (imports, the first browser, caches) are not counted
as growth. Exits 1 when a run failed (the error is printed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import FixtureSite, SentriProcess, make_tests
from tests.support.processes import descendants

RUN_TIMEOUT = 300.0
TARGET_RATIO = 1.10


def rss_kib(pid: int) -> int:
    """Resident memory of one process, in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(pid: int) -> tuple[float, float]:
    """(server MiB, server with its browsers MiB)."""
    own = rss_kib(pid)
    total = own + sum(rss_kib(child) for child in descendants(pid))
    return own / 1024, total / 1024


def one_run(sentri: SentriProcess, project_id: str, token: str, n_tests: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    response = sentri.http.post(
        f"{sentri.url}/api/v1/projects/{project_id}/trigger",
        headers=headers,
        json={"dialsConfig": {"parallelWorkers": 2}},
        timeout=30,
    )
    if response.status_code != 202:
        raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:300]}")
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        body = sentri.http.get(response.json()["statusUrl"], headers=headers, timeout=30).json()
        if body["status"] != "running":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"run still running after {RUN_TIMEOUT}s")
        time.sleep(0.2)
    if body["status"] != "completed" or body["passed"] != n_tests:
        raise RuntimeError(f"the run did not pass all {n_tests} tests: {body}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--early", type=int, default=5)
    args = parser.parse_args(argv)
    runs, n_tests, early = max(2, args.runs), max(1, args.tests), max(1, min(args.early, args.runs - 1))
    with tempfile.TemporaryDirectory(prefix="sentri-bench-") as tmp, FixtureSite() as site:  # noqa: SIM117 - one with is a line too long
        with SentriProcess(Path(tmp) / "instance", max_browsers=2) as sentri:
            project_id = sentri.cli("projects", "create", "Memory", "--base-url", site.url)
            sentri.cli(
                "tests",
                "import",
                "--project",
                project_id,
                str(make_tests(n_tests, site.url, Path(tmp) / "tests.yaml")),
                "--approve",
            )
            token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
            pid = sentri.proc.pid
            try:
                one_run(sentri, project_id, token, n_tests)  # warm-up: not counted
                print(f"after the warm-up run: server {measure(pid)[0]:.1f} MiB")
                for number in range(1, runs + 1):
                    one_run(sentri, project_id, token, n_tests)
                    if number == early:
                        at_early = measure(pid)
                        print(
                            f"after {early} runs: server {at_early[0]:.1f} MiB, with browsers {at_early[1]:.1f} MiB"
                        )
                at_end = measure(pid)
            except RuntimeError as exc:
                print(f"memory: FAILED: {exc} (server log: {sentri.stderr_path})")
                return 1
    print(f"after {runs} runs: server {at_end[0]:.1f} MiB, with browsers {at_end[1]:.1f} MiB")
    ratio = at_end[0] / at_early[0]
    print(
        f"server RSS after {runs} runs / after {early}: {ratio:.3f} (with browsers: {at_end[1] / at_early[1]:.3f}); "
        f"target <= {TARGET_RATIO:.2f}: {'ok' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    print(f"({runs} runs of {n_tests} tests, parallelWorkers 2; a run ends before the next starts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
