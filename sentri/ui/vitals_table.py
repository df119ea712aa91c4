"""A run's Web Vitals as one table, pages × metrics, instead of one table per test.

Each cell is the page's worst measurement among the tests that loaded it, as the budgets judge (any test's
page over a budget fails it), and says one thing: over its budget, slower than the baseline (the
regression gate), or Google's rating. Never "good" and "over budget" at once: a budget the team set is
what the cell is judged by when there is one. Every measurement and sample is behind the cell, on demand.
Quarantined tests' pages are left out, as the budgets leave them out."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..policies import vitals
from ..queue.ending import vitals_pages
from .figures import METRICS, format_metric


def _path(url: str | None) -> str:
    parts = urlsplit(url or "")
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def cell(metric: str, found: list[dict], budget: float | None, finding: dict | None) -> dict:
    measured = [m for m in found if m["value"] is not None]
    if not measured:
        return {"text": format_metric(metric, None), "state": None, "note": "", "measurements": []}
    worst = max(measured, key=lambda m: m["value"])
    value = worst["value"]
    if budget is not None and value > budget:
        state, note = "over", f"over the {format_metric(metric, budget)} budget"
    elif finding is not None:
        state, note = (
            "regressed",
            f"slower than the baseline's {format_metric(metric, finding.get('baseline'))}",
        )
    else:
        rated = vitals.rating(metric, value)
        state = rated or ""
        note = state.replace("-", " ") + (f", budget {format_metric(metric, budget)}" if budget else "")
    return {
        "text": format_metric(metric, value),
        "state": state,
        "note": note,
        "measurements": [
            {
                "test": m["test"],
                "text": format_metric(metric, m["value"]),
                "samples": len(m["samples"]),
                "spread": _spread(metric, m["samples"]),
            }
            for m in measured
        ],
    }


def _spread(metric: str, samples: list[float]) -> str:
    """Several samples of one measurement (vitalsSamples) as their range: the value is their median."""
    if len(samples) < 2:
        return ""
    return (
        f"{format_metric(metric, min(samples))}–{format_metric(metric, max(samples))}, "
        f"median of {len(samples)} samples"
    )


def table(run, budgets: dict | None) -> dict:
    """The rows (one per page) and the metrics that have a measurement or a budget (the other columns
    would be all dashes)."""
    budgets = budgets or {}
    regression = (run.vitals_result or {}).get("regression") or {}
    findings = {(_path(f.get("url")), f.get("metric")): f for f in regression.get("findings") or []}
    pages: dict[str, dict[str, list[dict]]] = {}
    for row in vitals_pages(run.id):
        page = pages.setdefault(_path(row.get("url")), {metric: [] for metric in METRICS})
        for metric in METRICS:
            samples = (row.get("samples") or {}).get(metric) or []
            page[metric].append(
                {
                    "test": row.get("testName") or row.get("testId"),
                    "value": row.get(metric),
                    "samples": samples,
                }
            )
    shown = [
        m
        for m in METRICS
        if budgets.get(m) is not None
        or any(x["value"] is not None for page in pages.values() for x in page[m])
    ]
    rows = [
        {
            "path": path,
            "cells": {m: cell(m, found[m], budgets.get(m), findings.get((path, m))) for m in shown},
        }
        for path, found in pages.items()
    ]
    return {"metrics": shown, "rows": rows, "budgets": budgets}
