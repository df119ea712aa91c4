"""Writing a test in the browser and running one test: the New test page (a YAML or JSON editor whose
problems are listed per step beside it, checked by the same validator as the API's test creation) and
a test page's "Run this test" (a run of that test alone, as a trigger's caseIds asks). Views on the
`pages` blueprint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml
from flask import flash, redirect, render_template, request, url_for

from .. import projects, testcases, testfiles, testformat
from ..errors import Conflict, ValidationFailed
from .pages_common import bp, get_goes_back, login_required, tell
from .pages_project import start_run

MAX_SOURCE_CHARS = 200_000  # the editor's maxlength: 500 long steps fit; a bigger body is refused unread
_STEP_PROBLEM = re.compile(r"step (\d+)(?: \(([a-z_]+)\))?: (.*)", re.DOTALL)


@dataclass
class StepProblems:
    """What is wrong with one step (number None: with the test as a whole), and its line in the editor."""

    number: int | None
    action: str | None = None
    line: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"problem-step-{self.number}" if self.number else "problem-test"


def example_source(project) -> str:
    """The example a new project starts from: open its base URL and check the page's title."""
    return (
        "# An example to start from: open the project's base URL and check the page's title.\n"
        f"# A path like / joins the run's base URL ({project.base_url.replace(chr(10), ' ')}).\n"
        "name: Home page opens\n"
        "tags: [smoke]\n"
        "steps:\n"
        "  - goto: /\n"
        f"  - expect_title: {json.dumps(project.name, ensure_ascii=False)}   # the title contains this text\n"
    )


def _step_lines(text: str) -> list[int]:
    """The editor line (from 1) each step starts on, when the text reads as YAML (JSON mostly does)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # a node tree: aliases are not expanded
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def group_problems(problems: list[str], prefix: str, lines: list[int]) -> list[StepProblems]:
    """Sort the validator's sentences ('test "X": step 3 (click): ...') by step, the test's own first."""
    groups: dict[int | None, StepProblems] = {}
    for sentence in problems:
        rest = sentence[len(prefix) + 2 :] if sentence.startswith(prefix + ": ") else sentence
        match = _STEP_PROBLEM.fullmatch(rest)
        number = int(match.group(1)) if match else None
        group = groups.setdefault(number, StepProblems(number))
        if match:
            group.action = group.action or match.group(2)
            group.line = lines[number - 1] if number is not None and 0 < number <= len(lines) else None
        group.problems.append(match.group(3) if match else rest)
    return sorted(groups.values(), key=lambda g: -1 if g.number is None else g.number)


def _check(text: str) -> tuple[dict | None, list[StepProblems]]:
    """Parse the editor's text as one test and validate it; return (document, problems by step)."""
    if len(text) > MAX_SOURCE_CHARS:
        return None, [
            StepProblems(
                None,
                problems=[
                    f"The test is {len(text):,} characters long; the editor takes at most {MAX_SOURCE_CHARS:,}."
                ],
            )
        ]
    if not text.strip():
        return None, [StepProblems(None, problems=["Write a test: a name and its steps."])]
    try:
        documents = testfiles.parse_document(text)
    except testformat.TestFormatError as exc:
        return None, [StepProblems(None, problems=exc.problems)]
    if len(documents) != 1:
        return None, [
            StepProblems(
                None,
                problems=[
                    f"The editor holds one test (this text has {len(documents)}); import a file to add several."
                ],
            )
        ]
    document = documents[0]
    # The API's own check (testcases.create runs it again on save), sorted by step for the page.
    prefix = testformat.test_prefix(document, None, "test")
    _canonical, problems = testformat.check_test(document, prefix)
    if problems:
        return None, group_problems(problems, prefix, _step_lines(text))
    return document, []


def _editor(project, source: str, problems=None, status: int = 200):
    return (
        render_template(
            "pages/new_test.html",
            project=project,
            tab="tests",
            source=source,
            problems=problems or [],
            max_chars=MAX_SOURCE_CHARS,
        ),
        status,
    )


@bp.get("/projects/<project_id>/tests/new")
@login_required
def new_test(project_id, user):
    project = projects.get(project_id)
    return _editor(project, example_source(project) if request.args.get("example") else "")


@bp.post("/projects/<project_id>/tests/new")
@login_required
def new_test_save(project_id, user):
    project = projects.get(project_id)
    source = request.form.get("source", "").replace("\r\n", "\n")
    document, problems = _check(source)
    if problems:
        kept = source if len(source) <= MAX_SOURCE_CHARS else ""  # never echo an oversized body back
        return _editor(project, kept, problems, status=400)
    try:
        test = testcases.create(project, document, actor=user)
    except ValidationFailed as exc:  # the same validator: only reached if the two ever disagree
        return _editor(project, source, [StepProblems(None, problems=exc.message.split("; "))], status=400)
    flash(f"{test.public_id} saved as a draft: approve it in the review queue to run it.", "success")
    return redirect(url_for("pages.test_page", project_id=project.public_id, test_id=test.public_id))


@bp.post("/projects/<project_id>/tests/<test_id>/run")
@login_required
def test_run(project_id, test_id, user):
    """Run this test alone (as a trigger with caseIds: [id]), then open the run."""
    project = projects.get(project_id)
    test = testcases.get(project, test_id)
    try:
        run = start_run(project, user, case_ids=[test.id])
    except (Conflict, ValidationFailed) as exc:
        active = exc.extra.get("runId") if isinstance(exc, Conflict) else None
        tell("run-test", exc.message + (f" (open {active} on the Runs tab)" if active else ""), "error")
        return redirect(
            url_for("pages.test_page", project_id=project.public_id, test_id=test.public_id) + "#run-test"
        )
    return redirect(url_for("pages.run_page", run_id=run.public_id))


get_goes_back(
    "/projects/<project_id>/tests/<test_id>/run",
    "pages.test_page",
    "run-test",
    keep=("project_id", "test_id"),
)
