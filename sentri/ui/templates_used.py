"""A step's target as it ran: its {{NAME}} templates filled with the values the run used, so a reviewer
sees `role link "teapot"` and, beside it, the template `role link "{{TERM}}"` the test keeps.

The values are the run's, in the order a run resolves them (project, test-data set, environment,
trigger); a secret is never shown, only named."""

from __future__ import annotations

from typing import Any

from ..environments import PLACEHOLDER
from ..extensions import db
from ..models import Environment, Project, Run, TestDataSet


def run_values(project: Project, run: Run | None) -> tuple[dict[str, str], set[str]]:
    """The {{NAME}} values `run` used (the project's own when there is no run), and the secrets' names."""
    values: dict[str, str] = dict(project.variables or {})
    secrets: set[str] = set()
    options = (run.options or {}) if run is not None else {}
    data_set = db.session.get(TestDataSet, TestDataSet.key_of(options.get("testDataSetId")) or 0)
    if data_set is not None:
        values.update(data_set.variables or {})
    environment = db.session.get(Environment, Environment.key_of(options.get("environmentId")) or 0)
    if environment is not None:
        values.update(environment.variables or {})
        secrets.update(environment.secrets or {})
    values.update(options.get("variables") or {})
    for name in secrets:
        values.pop(name, None)
    return values, secrets


def filled(target: dict[str, Any] | None, values: dict[str, str], secrets: set[str]) -> dict[str, Any] | None:
    """The target with its templates filled, or None when it has none (it ran as written). A secret
    reads "(secret NAME)"; a name the run did not define stays as written."""
    if not target or not any(isinstance(v, str) and PLACEHOLDER.search(v) for v in target.values()):
        return None

    def one(match) -> str:
        name = match.group(1)
        if name in secrets:
            return f"(secret {name})"
        return values.get(name, match.group(0))

    return {
        key: PLACEHOLDER.sub(one, value) if isinstance(value, str) else value for key, value in target.items()
    }
