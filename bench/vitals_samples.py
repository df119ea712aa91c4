"""What does `vitalsSamples` cost a run, and do the extra samples read the pages as the tests' own visits do?

    python bench/vitals_samples.py [--tests 10] [--rounds 3] [--samples 5] [--parallel 2] [--page page|hero]

Starts the fixture site and a real Sentri process (SENTRI_MAX_BROWSERS=2), imports N one-page tests (page:
goto /page/n, click "Go n", expect "Done n"; hero: goto /hero, expect the hero, painted 800 ms after load),
then per round triggers one run with `vitalsSamples` 1 (the baseline) and one with `--samples`, both at
`--parallel` workers with `wait: true`, alternating which goes first, and times each from the trigger to its
answer. A warm-up run of each is not counted. Prints the medians, the ratio and the target (<= 2x).

Truth: for every page of the sampled runs, the test's own reading is the first sample and the extra loads
follow; printed are the medians of the tests' own LCP and TTFB and of the extra samples' (over every test of
every counted round), and the same from the 1-sample runs. Extra samples that read higher than the tests'
own visits measure the sampling (its concurrency), not the page.
Exits 1 when a run does not pass.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import FixtureSite, SentriProcess, make_tests, write_tests

TARGET_RATIO = 2.0
METRICS = ("lcp", "ttfb")


def hero_tests(n: int, site_url: str, path: Path) -> Path:
    return write_tests(
        path,
        [
            {
                "name": f"Hero {i}",
                "tags": [],
                "steps": [
                    {"action": "goto", "url": f"{site_url}/hero?n={i}"},
                    {"action": "expect_visible", "target": {"css": "#hero"}},
                ],
            }
            for i in range(1, n + 1)
        ],
    )


def busy_seconds() -> float:
    """CPU time every process of the machine has used so far (user + system, /proc/stat), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed_run(
    sentri: SentriProcess, project_id: str, token: str, parallel: int, samples: int, n_tests: int
) -> tuple[float, float, dict[str, list[float]], dict[str, list[float]]]:
    """One run with `wait: true`: (seconds from the trigger to its answer, the machine's CPU seconds meanwhile,
    the tests' own readings, the extra samples' readings)."""
    body = {
        "wait": True,
        "dialsConfig": {"parallelWorkers": parallel, "retries": 0, "vitalsSamples": samples},
    }
    started, cpu = time.monotonic(), busy_seconds()
    answer = sentri.http.post(
        f"{sentri.url}/api/v1/projects/{project_id}/trigger",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=600,
    )
    seconds, cpu = time.monotonic() - started, busy_seconds() - cpu
    status = answer.json()
    if answer.status_code != 200 or status.get("passed") != n_tests:
        raise RuntimeError(
            f"the run did not pass all {n_tests} tests ({answer.status_code}): {answer.text[:500]}"
        )
    detail = sentri.http.get(
        f"{sentri.url}/api/v1/runs/{status['runId']}", headers=sentri.user_headers(), timeout=30
    ).json()
    own: dict[str, list[float]] = {m: [] for m in METRICS}
    extra: dict[str, list[float]] = {m: [] for m in METRICS}
    for result in detail["results"]:
        for page in result["vitals"]:
            for metric in METRICS:
                values = (page.get("samples") or {}).get(metric) or (
                    [page[metric]] if page.get(metric) is not None else []
                )
                own[metric] += values[:1]
                extra[metric] += values[1:]
    return seconds, cpu, own, extra


def median(values: list[float]) -> str:
    return f"{statistics.median(values):6.0f}" if values else "   n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--page", choices=("page", "hero"), default="page")
    args = parser.parse_args()
    n, parallel = max(1, args.tests), max(1, args.parallel)
    times: dict[int, list[float]] = {1: [], args.samples: []}
    cpus: dict[int, list[float]] = {k: [] for k in times}
    own: dict[int, dict[str, list[float]]] = {k: {m: [] for m in METRICS} for k in times}
    extra: dict[str, list[float]] = {m: [] for m in METRICS}
    with (
        tempfile.TemporaryDirectory(prefix="sentri-bench-") as tmp,
        FixtureSite() as site,
        SentriProcess(Path(tmp) / "instance", max_browsers=2) as sentri,
    ):
        project_id = sentri.cli("projects", "create", "Bench", "--base-url", site.url)
        made = (
            make_tests(n, site.url, Path(tmp) / "tests.yaml")
            if args.page == "page"
            else hero_tests(n, site.url, Path(tmp) / "tests.yaml")
        )
        sentri.cli("tests", "import", "--project", project_id, str(made), "--approve")
        token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
        print(
            f"vitals_samples: {n} one-page tests ({args.page}), parallelWorkers {parallel}, vitalsSamples 1 vs "
            f"{args.samples}, {args.rounds} round(s) after a warm-up"
        )
        for samples in times:  # warm-up: every browser worker launched, every code path taken once
            timed_run(sentri, project_id, token, parallel, samples, n)
        for r in range(args.rounds):
            order = list(times) if r % 2 == 0 else list(times)[::-1]
            line = []
            for samples in order:
                seconds, cpu, mine, more = timed_run(sentri, project_id, token, parallel, samples, n)
                times[samples].append(seconds)
                cpus[samples].append(cpu)
                for metric in METRICS:
                    own[samples][metric] += mine[metric]
                    if samples > 1:
                        extra[metric] += more[metric]
                line.append(f"vitalsSamples {samples}: {seconds:.2f} s ({cpu:.1f} CPU s)")
            print(f"  round {r + 1}: " + ", ".join(line))
    base, product = statistics.median(times[1]), statistics.median(times[args.samples])
    ratio = product / base
    print()
    print(
        f"vitalsSamples {args.samples}: {product:.2f} s   baseline (vitalsSamples 1): {base:.2f} s   ratio {ratio:.2f}"
        f"   target <= {TARGET_RATIO:.1f}x {'ok' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"  (+{(product - base) / n * 1000:.0f} ms of run time per test; medians of {args.rounds} round(s) of {n} tests)"
    )
    cpu_base, cpu_product = statistics.median(cpus[1]), statistics.median(cpus[args.samples])
    cores = os.cpu_count() or 1
    print(
        f"  machine CPU per run: {cpu_product:.1f} s against {cpu_base:.1f} s ({cpu_product / cpu_base:.2f}x);"
        f" busy {cpu_product / product / cores:.0%} and {cpu_base / base / cores:.0%} of {cores} cores"
    )
    print("readings, ms (medians over every page of every counted round):")
    for metric in METRICS:
        print(
            f"  {metric.upper():<5} 1-sample runs {median(own[1][metric])}   {args.samples}-sample runs: tests' own "
            f"{median(own[args.samples][metric])}, extra samples {median(extra[metric])} "
            f"(n={len(extra[metric])})"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
