"""How often does the Web Vitals regression gate cry wolf, and how often does it miss a real slowdown?

    python bench/vitals_regression.py [--quiet-runs 20] [--slow-runs 5] [--pushes 3] [--samples 5]
                                      [--slowdown 300] [--scenarios server,client]

Starts a real Sentri process and a fixture site, then for each scenario a project with one test and the
regression gate on LCP and TTFB (+10 % and +100 ms, alpha 0.05, baselineRuns 5, minBaselineRuns 3,
`--samples` samples per page). Every delay is spread normally (gaussian jitter):

- server: /paced answers after 200 ms (sd 30); the slowdown makes the server `--slowdown` ms slower.
- client: /hero answers after 50 ms (sd 10) and paints its hero 800 ms (sd 50) after the load event, as a
  JS timer would; the slowdown paints it `--slowdown` ms later. The test waits for the hero; the extra
  samples must wait for it too.

Each scenario: 5 runs on main (the baseline), `--quiet-runs` runs on a feature branch with nothing changed
(false positives), `--slow-runs` with the page slowed (misses), then `--pushes` slowed runs pushed to main
(a regression merged) and `--slow-runs` slowed feature runs again: the product leaves the flagged pushes
out of the baseline; the old rule (every completed main run counts) is recomputed from the same samples.

Every verdict is recomputed here from the samples the API returns, with the product's own
`regression.compare` over the runs the product names as the baseline; exits 1 when a run failed or the
product and the recomputation disagree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentri.policies import regression
from tests.support import FixtureSite, SentriProcess, write_tests

RULE = {"maxIncreasePct": 10, "minIncreaseMs": 100}
METRICS = ("lcp", "ttfb")
BASELINE_RUNS = 5
ALPHA = 0.05


@dataclass
class Scenario:
    name: str
    path: str
    steps_check: dict
    pace: tuple[float, float]  # server delay, sd
    paint: tuple[float, float]  # hero paint after load, sd
    slow_attribute: str  # what --slowdown adds to
    describe: str


SCENARIOS = {
    "server": Scenario(
        "server",
        "/paced",
        {"action": "expect_text", "target": {"css": "h1"}, "text": "Paced"},
        (200.0, 30.0),
        (0.0, 0.0),
        "pace_ms",
        "the server answers after 200 ms (sd 30)",
    ),
    "client": Scenario(
        "client",
        "/hero",
        {"action": "expect_visible", "target": {"css": "#hero"}},
        (50.0, 10.0),
        (800.0, 50.0),
        "paint_ms",
        "the server answers after 50 ms (sd 10); the hero paints 800 ms (sd 50) after load",
    ),
}


@dataclass
class Record:
    run_id: str
    branch: str
    samples: dict[str, list[float]]
    regression: dict
    flagged: bool = field(init=False)

    def __post_init__(self) -> None:
        self.flagged = bool(self.regression.get("findings"))


class Bench:
    def __init__(self, sentri: SentriProcess, site: FixtureSite, scenario: Scenario, samples: int, tmp: Path):
        self.sentri, self.site, self.scenario = sentri, site, scenario
        self.records: list[Record] = []
        steps = [{"action": "goto", "url": f"{site.url}{scenario.path}"}, scenario.steps_check]
        self.project_id = sentri.cli("projects", "create", f"Bench {scenario.name}", "--base-url", site.url)
        tests = write_tests(
            tmp / f"{scenario.name}.yaml", [{"name": f"{scenario.name} page", "tags": [], "steps": steps}]
        )
        sentri.cli("tests", "import", "--project", self.project_id, str(tests), "--approve")
        self.token = sentri.cli("tokens", "create", "--project", self.project_id, "--name", "bench")
        settings = {"lcp": RULE, "ttfb": RULE, "vitalsSamples": samples, "baselineRuns": BASELINE_RUNS}
        sentri.http.patch(
            f"{sentri.url}/api/v1/projects/{self.project_id}/vitals-regression",
            json=settings,
            headers=sentri.user_headers(),
            timeout=30,
        ).raise_for_status()

    def run(self, branch: str) -> Record:
        status = self.sentri.run_to_end(self.project_id, self.token, {"branch": branch}, poll=0.2)
        if status["status"] != "completed":
            raise RuntimeError(f"run {status['runId']} ended {status['status']}: {status.get('error')}")
        detail = self.sentri.http.get(
            f"{self.sentri.url}/api/v1/runs/{status['runId']}", headers=self.sentri.user_headers(), timeout=30
        ).json()
        result = detail["results"][0]
        if result["status"] != "passed":
            raise RuntimeError(f"run {status['runId']}: the test {result['status']}: {result.get('error')}")
        page = result["vitals"][0]
        record = Record(
            status["runId"],
            branch,
            {m: page["samples"][m] for m in METRICS},
            status["webVitalsResult"]["regression"],
        )
        self._check(record)
        self.records.append(record)
        return record

    def _check(self, record: Record) -> None:
        """The product's verdict must be what compare() says over the runs it names as the baseline."""
        if record.regression["status"] != "evaluated":
            if record.flagged:
                raise RuntimeError(f"{record.run_id}: flagged while not evaluated")
            return
        named = [r for r in self.records if r.run_id in record.regression["baselineRunIds"]]
        mine = self.judge(record, named)
        if mine != record.flagged:
            raise RuntimeError(
                f"{record.run_id}: the product says {record.flagged}, the recomputation {mine}"
            )

    @staticmethod
    def judge(record: Record, baseline: list[Record]) -> bool:
        return any(
            regression.compare(
                m, RULE, record.samples[m], [v for b in baseline for v in b.samples[m]], ALPHA
            )["regressed"]
            for m in METRICS
        )

    def old_rule(self, record: Record) -> bool:
        """The verdict before the baseline rules: every completed main run counts, from the first one on."""
        before = [
            r
            for r in self.records
            if r.branch == "main" and r is not record and self.records.index(r) < self.records.index(record)
        ][-BASELINE_RUNS:]
        return bool(before) and self.judge(record, before)

    def line(self, label: str, record: Record) -> str:
        cells = []
        for metric in METRICS:
            cells.append(
                f"{metric.upper()} {statistics.median(record.samples[metric]):6.0f} "
                f"[{min(record.samples[metric]):.0f}-{max(record.samples[metric]):.0f}]"
            )
        verdict = (
            "FLAGGED"
            if record.flagged
            else ("ok" if record.regression["status"] == "evaluated" else "not evaluated")
        )
        return f"    {label:<10} {record.run_id:<8} {'  '.join(cells)}  -> {verdict}"


def scenario_report(bench: Bench, args) -> dict[str, str]:
    s, site = bench.scenario, bench.site
    site.pace_ms, site.pace_jitter_ms = s.pace
    site.paint_ms, site.paint_jitter_ms = s.paint
    print(f"\n== {s.name}-side slowdown: {s.describe}; {args.samples} samples per page")
    for i in range(BASELINE_RUNS):
        print(bench.line(f"main {i + 1}", bench.run("main")))
    quiet = [bench.run("feature/quiet") for _ in range(args.quiet_runs)]
    for i, record in enumerate(quiet):
        print(bench.line(f"quiet {i + 1}", record))
    setattr(site, s.slow_attribute, getattr(site, s.slow_attribute) + args.slowdown)
    slow = [bench.run("feature/slow") for _ in range(args.slow_runs)]
    for i, record in enumerate(slow):
        print(bench.line(f"slow {i + 1}", record))
    pushes = [bench.run("main") for _ in range(args.pushes)]
    for i, record in enumerate(pushes):
        print(bench.line(f"push {i + 1}", record))
    after = [bench.run("feature/slow") for _ in range(args.slow_runs)]
    for i, record in enumerate(after):
        print(bench.line(f"after {i + 1}", record))
    missed = lambda runs: sum(not r.flagged for r in runs)  # noqa: E731
    old_missed = sum(not bench.old_rule(r) for r in after)
    return {
        "false positives (quiet runs)": f"{sum(r.flagged for r in quiet)}/{len(quiet)}",
        f"misses, +{args.slowdown:g} ms, clean main": f"{missed(slow)}/{len(slow)}",
        "slow pushes to main flagged": f"{sum(r.flagged for r in pushes)}/{len(pushes)}",
        f"misses, +{args.slowdown:g} ms, after {len(pushes)} slow pushes": f"{missed(after)}/{len(after)}",
        "  the same, old rule (flagged runs in the baseline)": f"{old_missed}/{len(after)}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet-runs", type=int, default=20)
    parser.add_argument("--slow-runs", type=int, default=5)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--slowdown", type=float, default=300.0)
    parser.add_argument("--scenarios", default="server,client")
    args = parser.parse_args()
    chosen = [SCENARIOS[name] for name in args.scenarios.split(",")]

    summary: dict[str, dict[str, str]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        FixtureSite() as site,
        SentriProcess(Path(tmp) / "instance", max_browsers=1) as sentri,
    ):
        site.gaussian = True
        print(
            f"rules: +10 % and +100 ms on LCP and TTFB, alpha {ALPHA}, baselineRuns {BASELINE_RUNS}, "
            f"minBaselineRuns 3, runs the gate flagged left out of later baselines"
        )
        for scenario in chosen:
            summary[scenario.name] = scenario_report(
                Bench(sentri, site, scenario, args.samples, Path(tmp)), args
            )
    print()
    width = max(len(key) for rows in summary.values() for key in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{name + '-side':>12}" for name in summary))
    for key in next(iter(summary.values())):
        print(f"{key:<{width}}  " + "  ".join(f"{rows[key]:>12}" for rows in summary.values()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
