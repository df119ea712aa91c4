"""How often does the Web Vitals regression gate cry wolf, and does it catch a real slowdown?

    python bench/vitals_regression.py [--quiet-runs 20] [--samples 5] [--jitter 50] [--slowdown 300]

Starts a real Sentri process and a fixture site whose /paced page answers after 200 ms ± `--jitter` ms
(uniform, per request): its TTFB and LCP carry that delay. A project with one test (goto /paced) and the
regression gate on LCP and TTFB (10 % and 100 ms, alpha 0.05, 5 baseline runs, `--samples` samples per page)
runs 5 times on `main` (the baseline), then `--quiet-runs` times on a feature branch with nothing changed
(each one judged against the same 5 baseline runs), then once with the page `--slowdown` ms slower.

Prints, per run, the medians and the one-sided Mann-Whitney p-values (recomputed here from the samples the
API returns, with the product's own `regression.compare`, and checked against the run's verdict), then
the false-positive rate of the quiet runs and whether the slow run was flagged. Also printed: what a
single-sample gate (the plain "compare with last time" a user might script) flags on the same runs.
Exits 1 when a run failed or the product's verdict and the recomputation disagree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentri.runs import regression  # noqa: E402
from tests.support import FixtureSite, SentriProcess, write_tests  # noqa: E402

RULE = {"maxIncreasePct": 10, "minIncreaseMs": 100}
BASELINE_RUNS = 5


def run_once(sentri: SentriProcess, project_id: str, token: str, branch: str) -> tuple[dict, dict]:
    status = sentri.run_to_end(project_id, token, {"branch": branch}, poll=0.2)
    if status["status"] != "completed":
        raise RuntimeError(f"run {status['runId']} ended {status['status']}: {status['error']}")
    detail = sentri.http.get(f"{sentri.url}/api/v1/runs/{status['runId']}", headers=sentri.user_headers(), timeout=30)
    page = detail.json()["results"][0]["vitals"][0]
    return status, page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet-runs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--jitter", type=float, default=50.0)
    parser.add_argument("--slowdown", type=float, default=300.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FixtureSite() as site, \
            SentriProcess(Path(tmp) / "instance", max_browsers=1) as sentri:
        site.pace_ms, site.pace_jitter_ms = 200.0, args.jitter
        project_id = sentri.cli("projects", "create", "Paced", "--base-url", site.url)
        tests = write_tests(Path(tmp) / "paced.yaml", [{"name": "paced page", "tags": [], "steps": [
            {"action": "goto", "url": f"{site.url}/paced"},
            {"action": "expect_text", "target": {"css": "h1"}, "text": "Paced"}]}])
        sentri.cli("tests", "import", "--project", project_id, str(tests), "--approve")
        token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
        settings = {"lcp": RULE, "ttfb": RULE, "vitalsSamples": args.samples, "baselineRuns": BASELINE_RUNS}
        sentri.http.patch(f"{sentri.url}/api/v1/projects/{project_id}/vitals-regression", json=settings,
                          headers=sentri.user_headers(), timeout=30).raise_for_status()

        print(f"/paced answers after 200 ms ± {args.jitter:g} ms; {args.samples} samples per page; "
              f"baseline: {BASELINE_RUNS} runs on main; rules: +10 % and +100 ms, alpha 0.05")
        baseline: dict[str, list[float]] = {"lcp": [], "ttfb": []}
        first_samples: dict[str, list[float]] = {"lcp": [], "ttfb": []}
        for _ in range(BASELINE_RUNS):
            _status, page = run_once(sentri, project_id, token, "main")
            for metric in baseline:
                baseline[metric] += page["samples"][metric]
                first_samples[metric].append(page["samples"][metric][0])
        print(f"baseline medians: LCP {statistics.median(baseline['lcp']):.0f} ms, "
              f"TTFB {statistics.median(baseline['ttfb']):.0f} ms ({len(baseline['lcp'])} samples each)")

        def judged(label: str, branch: str) -> tuple[bool, bool]:
            status, page = run_once(sentri, project_id, token, branch)
            flagged_here, naive = False, False
            cells = []
            for metric in ("lcp", "ttfb"):
                outcome = regression.compare(metric, RULE, page["samples"][metric], baseline[metric], 0.05,
                                             always_test=True)
                flagged_here |= outcome["regressed"]
                # A single-sample gate: this run's first reading against the last baseline run's first reading.
                last = first_samples[metric][-1]
                naive |= page["samples"][metric][0] - last > max(100, last * 0.10)
                cells.append(f"{metric.upper()} {outcome['actual']:>6} vs {outcome['baseline']:>6} p={outcome['pValue']:.4f}")
            product = bool(status["webVitalsResult"]["regression"]["findings"])
            if product != flagged_here:
                raise RuntimeError(f"{status['runId']}: the product says {product}, the recomputation {flagged_here}")
            print(f"  {label:<10} {status['runId']:<8} {'  '.join(cells)}  -> {'FLAGGED' if product else 'ok'}"
                  f"{'  (single-sample gate: flagged)' if naive else ''}")
            return product, naive

        print(f"{args.quiet_runs} runs with nothing changed (branch feature/quiet):")
        quiet = [judged(f"quiet {i + 1}", "feature/quiet") for i in range(args.quiet_runs)]
        site.pace_ms += args.slowdown
        print(f"the page made {args.slowdown:g} ms slower (branch feature/slow):")
        slow, slow_naive = judged("slow", "feature/slow")

        false_positives = sum(flag for flag, _ in quiet)
        naive_false = sum(naive for _, naive in quiet)
        print()
        print(f"false positives, regression gate:    {false_positives}/{len(quiet)} "
              f"({100 * false_positives / len(quiet):.0f} %)")
        print(f"false positives, single-sample gate: {naive_false}/{len(quiet)} ({100 * naive_false / len(quiet):.0f} %)")
        print(f"+{args.slowdown:g} ms slowdown flagged: regression gate {'yes' if slow else 'NO'}, "
              f"single-sample gate {'yes' if slow_naive else 'no'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
