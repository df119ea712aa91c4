"""Web Vitals regressions against a baseline: is this run's page slower than the same page was on the
baseline branch, by more than the project allows, and is that more than noise?

The baseline of a page is every sample of it (same test, same path) in the baseline runs (vitals_baseline.py
says which: the last `baselineRuns` completed runs on the baseline branch, same browser and device, runs
the gate found a regression in left out, or a pinned set). Fewer than `minBaselineRuns` of them (default
3) and the run is "not evaluated": a one- or two-run baseline holds one machine's mood, not the page's.
A page regresses on a metric when its median is above the baseline median by more than `minIncreaseMs`
(`minIncrease` for CLS) *and* by more than `maxIncreasePct`, *and* a one-sided Mann-Whitney U test
(scipy) finds its samples greater at `alpha`. With n samples against m baseline samples and no tied
values, scipy's test is exact when n or m is at most 8, and its smallest p (every sample above every
baseline sample) is 1/C(n+m, n) (smallest_p): 1/6 for one sample against five, but 1/21 = 0.048 against
20 and 1/26 = 0.038 against 25, so one sample can be "significant". With tied values (or both sides above
8) scipy uses the normal approximation, whose p differs: one sample above five equal values gets 0.037.
A page without a baseline sample yet is "not evaluated", never a failure.

In `enforce` mode a regression is a `webVitalsResult` violation (`rule: "lcp_regression"`, with
`baseline`, `actual`, `threshold` and `pValue`), so the seed's CI script fails on it unchanged; in
`advisory` mode it is reported under `webVitalsResult.regression.findings` only.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, TypedDict
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from ..errors import ValidationFailed
from ..validation import Body, Flag, given, number_rule, one_of_rule, parse, problem, rule
from . import gates

Metric = Literal["lcp", "cls", "ttfb"]
METRICS: tuple[Metric, ...] = (
    "lcp",
    "cls",
    "ttfb",
)  # page-load metrics; INP stays per interaction, not sampled
MODES = ("enforce", "advisory")
DEFAULT_PCT = 10
DEFAULT_MIN = {"lcp": 100, "ttfb": 100, "cls": 0.05}
DEFAULT_ALPHA = 0.05
DEFAULT_BASELINE_RUNS = 5
DEFAULT_MIN_BASELINE_RUNS = 3
MAX_BASELINE_RUNS = 50
MAX_SAMPLES = 9
PINS = "pins"  # the key of the stored settings that holds the pinned baselines (vitals_baseline.py)
# A git branch name as CI systems pass it (GITHUB_REF_NAME, CI_COMMIT_REF_NAME): printable, no spaces.
BRANCH = re.compile(r"^[^\x00-\x20\x7f~^:?*\[\\]{1,255}$")

Pct = Annotated[int | float | None, number_rule(0, 1000, "must be a number of percent from 0 to 1000")]
Ms = Annotated[int | float | None, number_rule(0, 60000, "must be a number of milliseconds from 0 to 60000")]
Shift = Annotated[int | float | None, number_rule(0, 1, "must be a number from 0 to 1")]
Alpha = Annotated[int | float | None, number_rule(0.0001, 0.5, "must be a number from 0.0001 to 0.5")]
RunCount = Annotated[
    int | float | None,
    number_rule(1, MAX_BASELINE_RUNS, f"must be a whole number from 1 to {MAX_BASELINE_RUNS}", whole=True),
]
SampleCount = Annotated[
    int | float | None,
    number_rule(1, MAX_SAMPLES, f"must be a whole number from 1 to {MAX_SAMPLES}", whole=True),
]
Mode = Annotated[str, one_of_rule(MODES)]
PageKey = tuple[str | None, str]  # a page across runs: its test's public id and its path (page_key)


def _object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise problem('must be an object such as {"maxIncreasePct": 10, "minIncreaseMs": 100}, or null')
    return value


def branch_name(value: Any) -> str:
    """A branch name field's check (refs/heads/ is dropped)."""
    if not isinstance(value, str) or not BRANCH.match(value.removeprefix("refs/heads/")):
        raise problem(
            "must be a branch name such as main (1 to 255 characters, no spaces or control characters)"
        )
    return value.removeprefix("refs/heads/")


class TimingRule(Body):
    max_increase_pct: Pct = Field(DEFAULT_PCT, alias="maxIncreasePct")
    min_increase_ms: Ms = Field(100, alias="minIncreaseMs")


class ShiftRule(Body):
    max_increase_pct: Pct = Field(DEFAULT_PCT, alias="maxIncreasePct")
    min_increase: Shift = Field(DEFAULT_MIN["cls"], alias="minIncrease")


class RegressionPatch(Body):
    """A vitalsRegression PATCH: any subset; null clears a field (a cleared mode/alpha/baselineRuns is its
    default again)."""

    lcp: Annotated[TimingRule | None, BeforeValidator(lambda v: v if v is None else _object(v))] = None
    cls: Annotated[ShiftRule | None, BeforeValidator(lambda v: v if v is None else _object(v))] = None
    ttfb: Annotated[TimingRule | None, BeforeValidator(lambda v: v if v is None else _object(v))] = None
    alpha: Alpha = None
    baseline_runs: RunCount = Field(None, alias="baselineRuns")
    min_baseline_runs: RunCount = Field(None, alias="minBaselineRuns")
    exclude_regressed_runs: Flag | None = Field(None, alias="excludeRegressedRuns")
    mode: Mode | None = None
    baseline_branch: Annotated[str | None, rule(branch_name)] = Field(None, alias="baselineBranch")
    vitals_samples: SampleCount = Field(None, alias="vitalsSamples")


FIELDS = (
    "lcp",
    "cls",
    "ttfb",
    "alpha",
    "baselineRuns",
    "minBaselineRuns",
    "excludeRegressedRuns",
    "mode",
    "baselineBranch",
    "vitalsSamples",
)


class Settings(TypedDict):
    """The stored configuration with every default filled in (settings())."""

    lcp: dict[str, Any] | None  # a metric's rule: maxIncreasePct and minIncreaseMs (minIncrease for cls)
    cls: dict[str, Any] | None
    ttfb: dict[str, Any] | None
    alpha: float
    baselineRuns: int
    minBaselineRuns: int
    excludeRegressedRuns: bool
    mode: str
    baselineBranch: str
    vitalsSamples: int


class NotEvaluated(TypedDict):
    """A page and metric evaluate() could not judge (no baseline sample of it yet)."""

    testId: str | None
    url: str | None
    metric: Metric
    reason: str


class Summary(TypedDict):
    """What evaluate() found: webVitalsResult.regression."""

    mode: str
    baselineBranch: str
    baselineRuns: int
    baselineRunIds: list[str]
    pinnedRunId: str | None
    minBaselineRuns: int
    alpha: float
    status: str  # "evaluated" or "not evaluated" (then `reason` says why)
    findings: list[dict[str, Any]]  # compare()'s outcome of each regression, with the page's test and URL
    compared: int
    notEvaluated: list[NotEvaluated]
    reason: NotRequired[str]


def clean_patch(body: object) -> dict[str, Any]:
    """Validate a vitalsRegression PATCH body; a metric's rule is stored whole, its defaults filled in."""
    patch = given(parse(RegressionPatch, body))
    return {
        name: value.model_dump(by_alias=True) if isinstance(value, Body) else value
        for name, value in patch.items()
    }


def public(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The stored settings as the project's API shows them: the pins have their own endpoint."""
    shown = {name: value for name, value in (config or {}).items() if name != PINS}
    return shown or None


def merge(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply a cleaned patch; a minBaselineRuns above baselineRuns would never let the gate judge: a 400."""
    merged = gates.merge(current, patch)
    minimum, conf = (merged or {}).get("minBaselineRuns"), settings(merged)
    if minimum is not None and minimum > conf["baselineRuns"]:
        raise ValidationFailed.on(
            "minBaselineRuns",
            f"must not be more than baselineRuns ({conf['baselineRuns']}): "
            "the baseline never holds more runs than that",
        )
    return merged


def settings(config: Mapping[str, Any] | None) -> Settings:
    """The full configuration with defaults, for reading: None metrics are not checked. minBaselineRuns
    defaults to 3, or to baselineRuns when that is set lower."""
    config = config or {}
    runs = config.get("baselineRuns") or DEFAULT_BASELINE_RUNS
    return {
        "lcp": config.get("lcp"),
        "cls": config.get("cls"),
        "ttfb": config.get("ttfb"),
        "alpha": config.get("alpha") or DEFAULT_ALPHA,
        "baselineRuns": runs,
        "minBaselineRuns": config.get("minBaselineRuns") or min(DEFAULT_MIN_BASELINE_RUNS, runs),
        "excludeRegressedRuns": config.get("excludeRegressedRuns") is not False,
        "mode": config.get("mode") or "enforce",
        "baselineBranch": config.get("baselineBranch") or "main",
        "vitalsSamples": config.get("vitalsSamples") or 1,
    }


def page_key(test_id: str | None, url: str | None) -> PageKey:
    """A page across runs: its test and its path (with query). The origin is left out, so a preview
    deploy's run compares with the baseline branch's runs on another host."""
    parts = urlsplit(url or "")
    return test_id, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def samples_of(page: Mapping[str, Any], metric: str) -> list[float]:
    """Every measured sample of one metric on one page row (one when the page was measured once)."""
    values = (page.get("samples") or {}).get(metric)
    if values is None:
        values = [page.get(metric)]
    return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def pool(pages: Sequence[Mapping[str, Any]]) -> dict[PageKey, dict[str, list[float]]]:
    """Pool the samples of page rows (of several runs) by page."""
    pooled: dict[PageKey, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for page in pages:
        key = page_key(page.get("testId"), page.get("url"))
        for metric in METRICS:
            pooled[key][metric].extend(samples_of(page, metric))
    return pooled


def smallest_p(n: int, m: int) -> float:
    """The smallest p the exact one-sided Mann-Whitney U test gives n samples against m: 1/C(n+m, n)."""
    return 1 / math.comb(n + m, n)


def p_value(actual: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided Mann-Whitney U: how likely samples at least this much greater are if nothing changed."""
    if not actual or not baseline:
        return 1.0
    # Only runs with a regression gate need scipy.stats; importing it costs every process and CLI command ~0.9 s.
    from scipy.stats import mannwhitneyu  # lazy: see above

    result = mannwhitneyu(actual, baseline, alternative="greater")
    value = float(result.pvalue)
    return value if math.isfinite(value) else 1.0  # every value tied: no evidence of a change


def compare(
    metric: str,
    rule: Mapping[str, Any],
    actual: Sequence[float],
    baseline: Sequence[float],
    alpha: float,
    *,
    always_test: bool = False,
) -> dict[str, Any]:
    """Compare one page's samples of one metric with its baseline; `regressed` says the verdict. The test
    (about a millisecond) runs only when the median passed both thresholds, unless `always_test`."""
    base, now = statistics.median(baseline), statistics.median(actual)
    minimum = rule.get("minIncrease", rule.get("minIncreaseMs", DEFAULT_MIN[metric]))
    pct = rule.get("maxIncreasePct", DEFAULT_PCT)
    threshold = base + max(minimum, base * pct / 100)  # what the median had to exceed
    increase = now - base
    over = increase > minimum and (base <= 0 or increase * 100 / base > pct)
    p = p_value(actual, baseline) if over or always_test else None
    regressed = over and p is not None and p < alpha  # p is None only when not `over`
    return {
        "rule": f"{metric}_regression",
        "metric": metric,
        "baseline": gates.reported(base),
        "actual": gates.reported(now),
        "threshold": gates.reported(threshold),
        "increasePct": None if base <= 0 else gates.reported(increase * 100 / base),
        "pValue": None if p is None else float(f"{p:.4g}"),
        "alpha": alpha,
        "samples": len(actual),
        "baselineSamples": len(baseline),
        "regressed": regressed,
    }


def evaluate(
    config: Mapping[str, Any] | None,
    pages: Sequence[Mapping[str, Any]],
    baseline_pages: Sequence[Mapping[str, Any]],
    baseline_runs: Sequence[str],
    *,
    pinned: str | None = None,
) -> Summary | None:
    """Judge a run's pages against the pooled pages of its baseline runs (public ids, newest first);
    None when no metric is configured."""
    conf = settings(config)
    rules = {metric: limits for metric in METRICS if (limits := conf[metric])}
    if not rules:
        return None
    branch, minimum = conf["baselineBranch"], conf["minBaselineRuns"]
    summary: Summary = {
        "mode": conf["mode"],
        "baselineBranch": branch,
        "baselineRuns": len(baseline_runs),
        "baselineRunIds": list(baseline_runs),
        "pinnedRunId": pinned,
        "minBaselineRuns": minimum,
        "alpha": conf["alpha"],
        "status": "evaluated",
        "findings": [],
        "compared": 0,
        "notEvaluated": [],
    }
    if not baseline_runs:
        summary |= {
            "status": "not evaluated",
            "reason": f"No completed run on {branch} yet to compare with: the first ones are the baseline.",
        }
        return summary
    if len(baseline_runs) < minimum:
        summary |= {
            "status": "not evaluated",
            "reason": f"The baseline holds {len(baseline_runs)} run(s) on {branch}; the gate judges from "
            f"{minimum} (minBaselineRuns).",
        }
        return summary
    baseline = pool(baseline_pages)
    first_row: dict[PageKey, Mapping[str, Any]] = {}
    for page in pages:
        first_row.setdefault(page_key(page.get("testId"), page.get("url")), page)
    for (test_id, path), measured in pool(pages).items():
        row = first_row[(test_id, path)]
        for metric, limits in rules.items():
            actual, before = measured.get(metric) or [], baseline.get((test_id, path), {}).get(metric) or []
            if not actual:
                continue
            if not before:
                summary["notEvaluated"].append(
                    {
                        "testId": test_id,
                        "url": row.get("url"),
                        "metric": metric,
                        "reason": "no baseline sample of this page yet",
                    }
                )
                continue
            summary["compared"] += 1
            outcome = compare(metric, limits, actual, before, conf["alpha"])
            if outcome.pop("regressed"):
                summary["findings"].append(
                    {**outcome, "testId": test_id, "testName": row.get("testName"), "url": row.get("url")}
                )
    if not summary["compared"]:
        summary |= {
            "status": "not evaluated",
            "reason": "None of this run's pages has a baseline sample yet.",
        }
    return summary


def combine(budgets: dict[str, Any] | None, regression: Summary | None) -> dict[str, Any] | None:
    """The run's webVitalsResult: the budgets' result with the regression summary beside it; in enforce
    mode each regression is also a violation, so the seed's `webVitalsResult.passed` check fails on it."""
    if regression is None:
        return budgets
    result: dict[str, Any] = dict(budgets or {"passed": True, "violations": []})
    result["regression"] = regression
    if regression["mode"] == "enforce" and regression["findings"]:
        result["violations"] = [*result["violations"], *regression["findings"]]
        result["passed"] = False
    return result
