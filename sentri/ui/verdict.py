"""A run's verdict and the reasons for it in sentences, the headline of its page: which tests failed, which
gate or budget said no, which page got slower; or why it passed."""

from __future__ import annotations

from ..models import Run
from ..reports.serialize import shown_verdict, verdict
from ..states import RunStatus
from .figures import METRIC_LABELS, format_metric

TITLES = {"passed": "Passed", "failed": "Failed", "pending": "Running", "aborted": "Aborted"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _names(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _gate(violation: dict) -> str:
    rule, actual, threshold = violation.get("rule"), violation.get("actual"), violation.get("threshold")
    if violation.get("message"):
        return f"Quality gate {rule}: {violation['message']}"
    if rule == "minPassRate":
        return f"Pass rate {actual}% is under the quality gate's minimum of {threshold}%"
    if rule == "maxFlakyPct":
        return f"{actual}% of the tests were flaky, over the quality gate's {threshold}%"
    if rule == "maxFailures":
        return f"{_plural(int(actual or 0), 'failure')}, over the quality gate's maximum of {threshold}"
    return f"Quality gate {rule}: {actual} against {threshold}"


def _budgets(violations: list[dict]) -> list[str]:
    by_metric: dict[str, list[dict]] = {}
    for v in violations:
        if v.get("rule") in METRIC_LABELS:
            by_metric.setdefault(v["rule"], []).append(v)
    return [
        f"{METRIC_LABELS[m]} over its {format_metric(m, found[0]['threshold'])} budget on "
        f"{_plural(len({v.get('url') for v in found}), 'page')}"
        for m, found in by_metric.items()
    ]


def _regressions(regression: dict | None) -> list[str]:
    if not regression or not regression.get("findings"):
        return []
    advisory = regression.get("mode") == "advisory"
    out = []
    for v in regression["findings"]:
        metric = v.get("metric") or str(v.get("rule", "")).removesuffix("_regression")
        out.append(
            f"{METRIC_LABELS.get(metric, metric)} slower than the baseline on {v.get('url')}: "
            f"{format_metric(metric, v.get('actual'))} against {format_metric(metric, v.get('baseline'))} "
            f"(p = {v.get('pValue')})" + (", reported only (advisory)" if advisory else "")
        )
    return out


def headline(run: Run, kinds: dict[str, int], failed_names: list[str]) -> dict:
    """The verdict as the page shows it, its title and its reasons, most telling first."""
    shown = shown_verdict(run)
    reasons: list[str] = []
    if run.is_active:
        if run.phase == "crawling":
            reasons.append("Crawling the site first: the tests wait for it.")
        reasons.append(f"{run.total - kinds.get('waiting', 0)} of {run.total} tests done so far.")
    elif run.status == RunStatus.ABORTED:
        ran = run.passed + run.failed + run.quarantined
        reasons.append(
            f"Aborted before all its tests ran ({ran} of {run.total} ran): gates and budgets were "
            "not evaluated."
        )
    elif run.status == RunStatus.FAILED:
        reasons.append(f"The run could not go on: {run.error or 'no reason recorded'}")
    else:
        if failed_names:
            passed_anyway = verdict(run) == "passed"
            reasons.append(
                f"{_plural(len(failed_names), 'test')} failed: {_names(failed_names)}"
                + (" (the quality gates allow it)" if passed_anyway else "")
            )
        reasons += [_gate(v) for v in (run.gate_result or {}).get("violations", [])]
        vitals = run.vitals_result or {}
        reasons += _budgets(vitals.get("violations", [])) + _regressions(vitals.get("regression"))
        if not reasons:
            held = [
                name
                for name, result in (
                    ("quality gates", run.gate_result),
                    ("Web Vitals budgets", run.vitals_result),
                )
                if result
            ]
            reasons.append(
                f"Every test that counts passed ({run.passed})"
                + (f"; the {' and '.join(held)} held." if held else ".")
            )
    if kinds.get("flaky"):
        reasons.append(f"{_plural(kinds['flaky'], 'test')} passed only on a retry (flaky).")
    if kinds.get("quarantined"):
        reasons.append(
            f"{_plural(kinds['quarantined'], 'quarantined test')} ran; "
            "quarantined tests never count toward the verdict."
        )
    return {
        "verdict": shown,
        "api_verdict": verdict(run),
        "title": TITLES.get(shown, shown),
        "reasons": reasons,
    }
