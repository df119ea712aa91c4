"""What Sentri says on GitHub about a finished run: the sticky comment's Markdown and the commit
status's state and description. Pure functions of a run's stored outcome, so they are easy to test."""

from __future__ import annotations

import re

from ..models import Run
from ..reports.serialize import verdict as run_verdict
from ..review import views
from ..states import ResultStatus, RunStatus
from ..ui import describe_step, describe_target

DESCRIPTION_MAX = 140  # GitHub answers 422 "description is too long (maximum is 140 characters)"
COMMENT_MAX = 65536  # GitHub answers 422 "body is too long (maximum is 65536 characters)"
TOP_FAILURES = 10
REASON_MAX = 160
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#~!])")
_VITAL_UNITS = {"lcp": " ms", "inp": " ms", "ttfb": " ms", "cls": ""}


def variant(run: Run) -> str:
    """The browser and device of a run when they are not the default: parallel runs of one project on other
    browsers or devices keep a comment and a commit status of their own ("" for chromium on desktop)."""
    return "" if (run.browser, run.device) == ("chromium", "desktop") else f"{run.browser}, {run.device}"


def marker(project_public_id: str, run: Run | None = None) -> str:
    """The hidden line that identifies Sentri's comment for one project (and browser and device, when not
    the default) on a pull request."""
    extra = f" browser={run.browser} device={run.device}" if run is not None and variant(run) else ""
    return f"<!-- sentri:report project={project_public_id}{extra} -->"


def clip(text: str, limit: int) -> str:
    """Shorten `text` to at most `limit` characters, marking the cut with '...'."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def escape(text: str) -> str:
    """Make user text (test names, error messages) inert in GitHub Markdown, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def status_state(run: Run) -> str:
    """GitHub commit state for a finished run: the verdict decides, so gates and budgets block a merge."""
    if run.status != RunStatus.COMPLETED:
        return "error"  # the run itself broke, was stopped or aborted: its tests did not all run
    return "success" if run_verdict(run) == "passed" else "failure"


def _violated_rules(result: dict | None) -> list[str]:
    if not result or result.get("passed", True):
        return []
    return sorted({str(v.get("rule")) for v in result.get("violations", [])})


def pending_description(run: Run) -> str:
    return clip(f"Running {run.total} test{'s' if run.total != 1 else ''}...", DESCRIPTION_MAX)


def final_description(run: Run) -> str:
    """One line within GitHub's 140 characters saying why the status is what it is."""
    executed = run.passed + run.failed
    if run.status == RunStatus.ABORTED:
        text = f"Aborted after {executed} of {run.total} tests"
    elif run.status != RunStatus.COMPLETED:
        text = f"Run failed: {run.error or run.status}"
    else:
        counts = (
            f"{run.passed} passed, {run.failed} failed"
            + (f", {run.skipped} skipped" if run.skipped else "")
            + (f", {run.quarantined} quarantined" if run.quarantined else "")
        )
        reasons = []
        if gates := _violated_rules(run.gate_result):
            reasons.append("gates: " + ", ".join(gates))
        if budgets := _violated_rules(run.vitals_result):
            reasons.append("budgets: " + ", ".join(b.upper() for b in budgets))
        verdict = "Passed" if status_state(run) == "success" else "Failed"
        text = f"{verdict}: {counts}" + (f"; {'; '.join(reasons)}" if reasons else "")
    return clip(text, DESCRIPTION_MAX)


def _gate_lines(run: Run) -> list[str]:
    lines = []
    gate = run.gate_result
    if gate is not None:
        if gate.get("passed"):
            lines.append("**Quality gates:** passed")
        else:
            details = "; ".join(
                f"`{v['rule']}` threshold {v['threshold']}, actual {v['actual']}"
                + (f" ({escape(v['message'])})" if v.get("message") else "")
                for v in gate.get("violations", [])
            )
            lines.append(f"**Quality gates:** :x: failed: {details}")
    budgets = run.vitals_result
    if budgets is not None:
        if budgets.get("passed"):
            lines.append("**Web Vitals budgets:** passed")
        else:
            violations = budgets.get("violations", [])
            shown = [_vital_text(v) for v in violations[:TOP_FAILURES]]
            more = f" and {len(violations) - len(shown)} more" if len(violations) > len(shown) else ""
            lines.append("**Web Vitals budgets:** :x: failed: " + "; ".join(shown) + more)
        regression = budgets.get("regression")
        if regression and regression.get("status") != "evaluated":
            lines.append(
                f"**Web Vitals regressions:** not evaluated: {escape(regression.get('reason') or '')}"
            )
        elif regression and regression.get("mode") == "advisory" and regression.get("findings"):
            found = regression["findings"]
            lines.append(
                "**Web Vitals regressions (advisory, not failing):** "
                + "; ".join(_vital_text(v) for v in found[:TOP_FAILURES])
            )
    return lines


def _vital_text(violation: dict) -> str:
    """A budget violation ("`LCP` 3100 ms over 2500 ms on ...") or a regression against the baseline."""
    rule = str(violation["rule"])
    unit = _VITAL_UNITS.get(rule.removesuffix("_regression"), "")
    where = f"on {escape(violation.get('url') or '?')} ({escape(violation.get('testName') or '?')})"
    if rule.endswith("_regression"):
        return (
            f"`{rule.upper()}` median {violation['actual']}{unit} vs baseline {violation['baseline']}{unit} "
            f"(p = {violation['pValue']}) {where}"
        )
    return f"`{rule.upper()}` {violation['actual']}{unit} over {violation['threshold']}{unit} {where}"


def _step_text(result, steps_by_test: dict[int, list[dict]]) -> str:
    if not result.failing_step:
        return ""
    steps = steps_by_test.get(result.test_id) or []
    index = result.failing_step
    if 0 < index <= len(steps):
        return f"{index}: `{clip(describe_step(steps[index - 1]), 80).replace('`', chr(39))}`"
    return str(index)


def _visual_lines(run: Run, run_url: str) -> list[str]:
    """Screenshots that did not match their approved baseline: waiting for review, or rejected before."""
    diffs = [(r, entry) for r in run.results for entry in views.visual_diffs(r.snapshots)]
    if not diffs:
        return []
    lines = ["", "Visual diffs:", "", "| Test | Screenshot | Pixels changed | Review |", "|---|---|---|---|"]
    for result, entry in diffs[:TOP_FAILURES]:
        ratio = f"{entry['ratio']:.2%}" if entry.get("ratio") is not None else "size changed"
        review = "rejected" if entry["status"] == "rejected" else "waiting for review"
        lines.append(
            f"| {escape(result.test_name)} | {escape(clip(entry['name'], 80))} "
            f"({entry.get('viewport', '')}) | {ratio} | {review} |"
        )
    if len(diffs) > TOP_FAILURES:
        lines.append(f"\n...and {len(diffs) - TOP_FAILURES} more on the [run page]({run_url}).")
    return lines


def _healed_lines(run: Run) -> list[str]:
    """Steps whose target matched nothing and healed: the test passed, a person decides on the change."""
    heals = [(r, h) for r in run.results for h in views.healed(r.healed)]
    if not heals:
        return []
    lines = [
        "",
        "Healed steps (passed with another locator; proposed in the review queue):",
        "",
        "| Test | Step | Was | Now |",
        "|---|---|---|---|",
    ]
    for result, heal in heals[:TOP_FAILURES]:
        was, now = (escape(clip(describe_target(heal[k]), 80)).replace("`", "'") for k in ("from", "to"))
        lines.append(f"| {escape(result.test_name)} | {heal['step']} | `{was}` | `{now}` |")
    return lines


def comment_body(run: Run, run_url: str, steps_by_test: dict[int, list[dict]]) -> str:
    """The sticky comment for a finished run (Markdown, within GitHub's 65536 characters)."""
    project = run.project
    state = status_state(run)
    icon = {"success": ":white_check_mark:", "failure": ":x:"}.get(state, ":warning:")
    headline = {"success": "passed", "failure": "failed"}.get(state, f"did not complete ({run.status})")
    sha = (run.integrations or {}).get("github", {}).get("commitSha")
    duration = ""
    if run.started_at and run.finished_at:
        duration = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
    lines = [
        marker(project.public_id, run),
        f"### {icon} Sentri: {escape(project.name)}"
        + (f" ({variant(run)})" if variant(run) else "")
        + f" {headline}",
        "",
        f"**{run.passed} passed**, **{run.failed} failed**, {run.skipped} skipped, {run.flaky} flaky"
        + (f", {run.quarantined} quarantined" if run.quarantined else "")
        + f" of {run.total} tests{duration}."
        f" Run [{run.public_id}]({run_url})" + (f" on `{sha[:7]}`" if sha else "") + ".",
    ]
    if run.status != RunStatus.COMPLETED and run.error:
        lines += ["", f"**The run did not complete:** {escape(clip(run.error, 300))}"]
    gate_lines = _gate_lines(run)
    if gate_lines:
        lines += [""] + [line + "  " for line in gate_lines]
    failures = [r for r in run.results if r.status == "failed" and not r.quarantined and not r.page_url]
    broken = [r for r in run.results if r.status == "failed" and r.page_url]
    if broken:  # a crawl: true run's page checks
        lines += ["", "Pages that broke:", "", "| Page | Reason |", "|---|---|"]
        for result in broken[:TOP_FAILURES]:
            reason = escape(clip((result.error or "failed").removeprefix("step 1 (goto): "), REASON_MAX))
            lines.append(f"| {escape(clip(result.page_url or '', 120))} | {reason} |")
        if len(broken) > TOP_FAILURES:
            lines.append(f"\n...and {len(broken) - TOP_FAILURES} more on the [run page]({run_url}).")
    if failures:
        lines += ["", "| Failing test | Step | Reason |", "|---|---|---|"]
        for result in failures[:TOP_FAILURES]:
            reason = escape(clip(result.error or "failed", REASON_MAX))
            lines.append(f"| {escape(result.test_name)} | {_step_text(result, steps_by_test)} | {reason} |")
        if len(failures) > TOP_FAILURES:
            lines.append(f"\n...and {len(failures) - TOP_FAILURES} more on the [run page]({run_url}).")
    lines += _visual_lines(run, run_url) + _healed_lines(run)
    held = [r for r in run.results if r.quarantined and r.status in ("passed", "failed")]
    if held:
        lines += [
            "",
            "Quarantined tests (run and reported, not counted toward the verdict):",
            "",
            "| Quarantined test | Outcome | Reason |",
            "|---|---|---|",
        ]
        for result in held[:TOP_FAILURES]:
            reason = (
                escape(clip(result.error or "", REASON_MAX)) if result.status == ResultStatus.FAILED else ""
            )
            lines.append(f"| {escape(result.test_name)} | {result.status} | {reason} |")
        if len(held) > TOP_FAILURES:
            lines.append(f"\n...and {len(held) - TOP_FAILURES} more on the [run page]({run_url}).")
    lines += [
        "",
        f"<sub>Sentri updates this comment on every run of {project.public_id} for this pull request.</sub>",
    ]
    body = "\n".join(lines)
    if len(body) > COMMENT_MAX:  # only with pathological names; keep the marker and the link
        body = body[: COMMENT_MAX - 200] + f"\n\n...cut short; see the [run page]({run_url})."
    return body
