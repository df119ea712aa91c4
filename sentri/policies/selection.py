"""Which tests a run executes: all approved ones, or those named by caseIds / suiteIds, narrowed by a
selectionStrategy. The selection actually used is stored on the run.

- changed: tests whose `covers` globs match a path in `changedFiles`, tests visiting a page named in
  `changedPages`, and smoke tests (always);
- flaky: tests with a non-zero flaky score;
- recent: tests created or edited in the last `recentDays` days (default 7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from ..errors import ValidationFailed
from ..extensions import db
from ..models import Project, Suite, TestCase
from ..timestamps import utcnow
from . import planner
from .history import goto_pages

STRATEGIES = ("changed", "flaky", "recent")
DEFAULT_RECENT_DAYS = 7


@dataclass
class Selection:
    """What the trigger asked to run."""

    case_ids: list[int] | None = None
    suite_ids: list[str] | None = None
    strategy: str | None = None
    changed_files: list[str] = field(default_factory=list)
    changed_pages: list[str] = field(default_factory=list)
    recent_days: int = DEFAULT_RECENT_DAYS

    def describe(self, chosen: Sequence[TestCase]) -> dict[str, Any]:
        return {
            "caseIds": [TestCase.format_id(i) for i in self.case_ids] if self.case_ids is not None else None,
            "suiteIds": self.suite_ids,
            "selectionStrategy": self.strategy,
            "changedFiles": self.changed_files or None,
            "recentDays": self.recent_days if self.strategy == "recent" else None,
            "testIds": [t.public_id for t in chosen],
        }


def _repo_path(path: str) -> str:
    """A repository path without its leading "./" (a leading "." of a name such as .github stays)."""
    while path.startswith("./"):
        path = path[2:]
    return path


def covers_changed(test: TestCase, changed_files: Sequence[str]) -> bool:
    """Tell whether any of the test's `covers` globs matches a changed repository path."""
    return any(
        fnmatchcase(_repo_path(path), _repo_path(glob))
        for glob in test.covers or []
        for path in changed_files
    )


def _by_strategy(tests: list[TestCase], selection: Selection) -> list[TestCase]:
    if selection.strategy == "changed":
        return [
            t
            for t in tests
            if planner.is_smoke(t.name, t.tags or [])
            or covers_changed(t, selection.changed_files)
            or planner.touches(_history_stub(t), selection.changed_pages)
        ]
    if selection.strategy == "flaky":
        return [t for t in tests if (t.flaky_score or 0) > 0]
    if selection.strategy == "recent":
        since = utcnow() - timedelta(days=selection.recent_days)
        return [t for t in tests if t.created_at >= since or t.updated_at >= since]
    return tests


def _history_stub(test: TestCase) -> planner.TestHistory:
    return planner.TestHistory(
        test_id=test.id,
        name=test.name,
        tags=test.tags or [],
        updated_at=test.updated_at,
        outcomes=[],
        durations_ms=[],
        flaky_score=0.0,
        pages=goto_pages(test.steps),
    )


def choose(project: Project, approved: list[TestCase], selection: Selection) -> list[TestCase]:
    """Return the approved tests the selection names (maybe none: the others are skipped as deselected,
    and a run with nothing to execute completes at once); a 400 for ids that are not the project's."""
    tests = approved
    if selection.case_ids is not None:
        found = {
            t.id: t
            for t in db.session.query(TestCase).filter(
                TestCase.project_id == project.id, TestCase.id.in_(selection.case_ids)
            )
        }
        # str(): format_id is str | None for any key, and these keys are never None.
        unknown = [str(TestCase.format_id(i)) for i in selection.case_ids if i not in found]
        if unknown:
            raise ValidationFailed.on("caseIds", f"not tests of {project.public_id}: {', '.join(unknown)}")
        unapproved = [
            f"{TestCase.format_id(i)} ({found[i].review_status})"
            for i in selection.case_ids
            if found[i].review_status != "approved"
        ]
        if unapproved:
            raise ValidationFailed.on(
                "caseIds", f"only approved tests run; not approved: {', '.join(unapproved)}"
            )
        tests = [t for t in tests if t.id in set(selection.case_ids)]
    if selection.suite_ids is not None:
        keys = {s: Suite.key_of(s) for s in selection.suite_ids}
        suites = {
            s.id: s
            for s in db.session.query(Suite).filter(
                Suite.project_id == project.id, Suite.id.in_([k for k in keys.values() if k])
            )
        }
        unknown = [s for s, key in keys.items() if key not in suites]
        if unknown:
            raise ValidationFailed.on("suiteIds", f"not suites of {project.public_id}: {', '.join(unknown)}")
        members = {t.id for suite in suites.values() for t in suite.tests}
        tests = [t for t in tests if t.id in members]
    return _by_strategy(tests, selection)
