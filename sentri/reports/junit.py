"""A run as JUnit XML, the way GitLab's junit reports and GitHub's test reporters read it.

Valid against the Jenkins xUnit schema (junit-10.xsd, the one pytest validates against): one
testsuite for the run, one testcase per test with classname = the project; a failed test has a
<failure> naming its step (earlier failed attempts as <rerunFailure>); a test that passed on a
retry is passed with a <flakyFailure> per failed attempt; a skipped test has <skipped> with its reason.
A crawl: true run's page checks are testcases of classname "<project>.pages", their page in system-out.
A quarantined test (policies/quarantine.py) never fails the report: failed, it is <skipped type="quarantined">
with the failure in its text; passed, it passes; either way its system-out says it was quarantined.
Characters XML 1.0 cannot hold (page text may carry any) are dropped from every text and attribute."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from ..models import Project, Result, Run
from ..review import views
from ..states import ResultStatus, RunStatus
from ..ui import describe_target

SKIP_REASONS = {
    "over_budget": "Skipped: over the run's budgetMinutes",
    "aborted": "Skipped: the run was aborted",
}
# Everything outside XML 1.0's Char production: C0 controls but tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF. ElementTree writes them as they are and the document no longer parses.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: str | None) -> str | None:
    """Return the text without the characters an XML 1.0 document cannot contain."""
    return _NOT_XML.sub("", value) if value else value


def _strip_illegal(root: ET.Element) -> None:
    for element in root.iter():
        element.text = xml_safe(element.text)
        element.tail = xml_safe(element.tail)
        for name, value in list(element.attrib.items()):
            element.set(name, xml_safe(value))


def _seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.3f}"


def _failure_text(attempt: dict) -> str:
    step = attempt.get("failingStep")
    lines = [attempt.get("error") or "failed"]
    if step:
        lines.append(f"Failing step: {step}")
    return "\n".join(lines)


def _message(attempt: dict) -> str:
    return (attempt.get("error") or "failed").splitlines()[0][:500]


def _visual_lines(result: Result, image_url) -> list[str]:
    """Each screenshot that did not match, with its pictures' addresses; the diff as a JUnit attachment
    ([[ATTACHMENT|...]], which GitLab and Jenkins show beside the test)."""
    lines = []
    for entry in views.visual_diffs(result.snapshots):
        ratio = (
            f"{entry['ratio']:.2%} of pixels changed" if entry.get("ratio") is not None else "size changed"
        )
        review = "rejected before" if entry["status"] == "rejected" else "waiting for review"
        lines.append(
            f'Visual diff "{entry["name"]}" (step {entry.get("step")}, {entry.get("viewport")}): {ratio}, '
            f"{review}"
        )
        for label, key in (("Expected", "expectedSha256"), ("Actual", "sha256"), ("Diff", "diffSha256")):
            if entry.get(key):
                lines.append(f"  {label}: {image_url(entry[key])}")
        if entry.get("diffSha256"):
            lines.append(f"[[ATTACHMENT|{image_url(entry['diffSha256'])}]]")
    for heal in views.healed(result.healed):
        lines.append(
            f"Healed step {heal['step']}: {describe_target(heal['from'])} -> {describe_target(heal['to'])}"
            f" ({heal['proposalId']} waits for review)"
        )
    return lines


def _testcase(parent: ET.Element, project: Project, result: Result, image_url) -> None:
    # A crawl's page checks are their own class, so a report groups "pages that broke" apart from tests.
    classname = f"{project.name}.pages" if result.page_url else project.name
    case = ET.SubElement(
        parent, "testcase", name=result.test_name, classname=classname, time=_seconds(result.duration_ms)
    )
    attempts = result.attempts or []
    if result.quarantined and result.status == ResultStatus.FAILED:
        last = attempts[-1] if attempts else {"error": result.error, "failingStep": result.failing_step}
        held = ET.SubElement(
            case,
            "skipped",
            type="quarantined",
            message=f"Quarantined, not counted: failed: {_message(last)}"[:500],
        )
        held.text = _failure_text(last)
    elif result.status == ResultStatus.SKIPPED:
        reason = SKIP_REASONS.get(result.skip_reason or "", f"Skipped: {result.skip_reason}")
        ET.SubElement(case, "skipped", message=reason)
    elif result.status == ResultStatus.FAILED:
        last = attempts[-1] if attempts else {"error": result.error, "failingStep": result.failing_step}
        failure = ET.SubElement(
            case, "failure", message=_message(last), type="PageCheck" if result.page_url else "StepFailed"
        )
        failure.text = _failure_text(last)
        for attempt in attempts[:-1]:
            rerun = ET.SubElement(case, "rerunFailure", message=_message(attempt), type="StepFailed")
            rerun.text = _failure_text(attempt)
    elif result.flaky:
        for attempt in attempts[:-1]:
            flaky = ET.SubElement(case, "flakyFailure", message=_message(attempt), type="StepFailed")
            flaky.text = _failure_text(attempt)
    lines = [f"Base URL: {result.base_url}"] if result.base_url else []
    if result.page_url:
        lines.append(f"Page: {result.page_url}")
    if len(attempts) > 1:
        lines.append(f"Attempts: {len(attempts)}")
    if result.quarantined and result.status != ResultStatus.SKIPPED:
        lines.append(f"Quarantined: {result.status}, not counted toward failures, gates or the verdict")
    lines += _visual_lines(result, image_url)
    if lines:
        ET.SubElement(case, "system-out").text = "\n".join(lines)


def render(run: Run, project: Project, run_url: str) -> bytes:
    """Return the run's JUnit XML document."""
    duration = 0.0
    if run.started_at and run.finished_at:
        duration = (run.finished_at - run.started_at).total_seconds()
    counts = {
        "tests": str(run.total),
        "failures": str(run.failed),
        "errors": "1" if run.status == RunStatus.FAILED else "0",
    }
    root = ET.Element("testsuites", name=f"Sentri {run.public_id}", time=f"{duration:.3f}", **counts)
    held = sum(1 for result in run.results if result.quarantined and result.status == ResultStatus.FAILED)
    suite = ET.SubElement(
        root,
        "testsuite",
        name=project.name,
        skipped=str(run.skipped + held),
        time=f"{duration:.3f}",
        id=run.public_id,
        url=run_url,
        **counts,
    )
    if run.started_at:
        suite.set("timestamp", run.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("runId", run.public_id),
        ("projectId", project.public_id),
        ("status", run.status),
        ("quarantined", str(run.quarantined)),
        ("url", run_url),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    api = run_url.rsplit("/runs/", 1)[0] + f"/api/v1/runs/{run.public_id}/visual"
    for result in run.results:
        _testcase(suite, project, result, lambda sha: f"{api}/{sha}.png")
    if run.status == RunStatus.FAILED and run.error:
        err = ET.SubElement(suite, "system-err")
        err.text = run.error
    _strip_illegal(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
