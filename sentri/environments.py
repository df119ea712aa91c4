"""Environments and test-data sets: the {{NAME}} values a run fills into its tests' steps.

Precedence, lowest first: the project's default variables < the test-data set < the environment's
variables and secrets < the trigger's `variables`. Secrets are encrypted at rest (vault.py), never
returned after creation, and masked (••••) wherever a run reports text."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from sqlalchemy import select

from . import vault
from .database import write
from .extensions import db
from .models import Environment, Project, TestDataSet, User, isoformat
from .public_ids import get_or_404
from .users import require_admin
from .validation import Body, Name, VariableChanges, Variables, WebUrl

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class UndefinedVariable(Exception):
    """A step names a {{NAME}} the run has no value for."""

    def __init__(self, index: int, name: str) -> None:
        super().__init__(f"step {index}: the variable {{{{{name}}}}} is not defined for this run")
        self.index = index


class NewEnvironment(Body):
    name: Name
    base_url: WebUrl | None = Field(default=None, alias="baseUrl")
    variables: Variables | None = None
    secrets: Variables | None = None


class EnvironmentChanges(Body):
    """A field left out stays; `variables` replaces them all; each secret is set (a string) or removed (null);
    a null baseUrl clears it."""

    name: Name = None  # type: ignore[assignment]  - absent means unchanged; null is refused
    base_url: WebUrl | None = Field(default=None, alias="baseUrl")
    variables: Variables | None = None
    secrets: VariableChanges | None = None


class NewDataSet(Body):
    name: Name
    variables: Variables | None = None


class DataSetChanges(Body):
    name: Name = None  # type: ignore[assignment]  - absent means unchanged; null is refused
    variables: Variables | None = None


# -- environments ----------------------------------------------------------------------------------


def create_environment(project: Project, body: NewEnvironment) -> Environment:
    """Create an environment; its secrets are stored encrypted."""
    environment = Environment(
        project_id=project.id,
        name=body.name,
        base_url=body.base_url,
        variables=body.variables or {},
        secrets={k: vault.encrypt(v) for k, v in (body.secrets or {}).items()},
    )
    with write():
        db.session.add(environment)
    return environment


def update_environment(
    environment: Environment, body: EnvironmentChanges, *, actor: User | None = None
) -> Environment:
    """Edit an environment. Removing a secret is a deletion: only an admin (or the CLI, actor=None) may."""
    given = body.model_fields_set
    changes = body.secrets or {}
    if any(value is None for value in changes.values()):
        require_admin(actor)
    with write():
        if "name" in given:
            environment.name = body.name
        if "base_url" in given:
            environment.base_url = body.base_url
        if "variables" in given:
            environment.variables = body.variables or {}
        if "secrets" in given:
            stored = dict(environment.secrets or {})
            for name, value in changes.items():
                if value is None:
                    stored.pop(name, None)
                else:
                    stored[name] = vault.encrypt(value)
            environment.secrets = stored
    return environment


def get_environment(project: Project, public_id: Any) -> Environment:
    """Return the project's environment with this id or raise 404."""
    return get_or_404(Environment, public_id, project=project)


def list_environments(project: Project) -> list[Environment]:
    return list(
        db.session.scalars(
            select(Environment).where(Environment.project_id == project.id).order_by(Environment.id)
        )
    )


def serialize_environment(environment: Environment) -> dict:
    """Return the API form: variables, and the NAMES of the secrets only."""
    return {
        "id": environment.public_id,
        "projectId": Project.format_id(environment.project_id),
        "name": environment.name,
        "baseUrl": environment.base_url,
        "variables": environment.variables or {},
        "secretNames": sorted(environment.secrets or {}),
        "createdAt": isoformat(environment.created_at),
    }


# -- test-data sets --------------------------------------------------------------------------------


def create_data_set(project: Project, body: NewDataSet) -> TestDataSet:
    data_set = TestDataSet(project_id=project.id, name=body.name, variables=body.variables or {})
    with write():
        db.session.add(data_set)
    return data_set


def update_data_set(data_set: TestDataSet, body: DataSetChanges, *, actor: User | None = None) -> TestDataSet:
    """Edit a test-data set's name and/or variables (any user: nothing is deleted)."""
    with write():
        if "name" in body.model_fields_set:
            data_set.name = body.name
        if "variables" in body.model_fields_set:
            data_set.variables = body.variables or {}
    return data_set


def get_data_set(project: Project, public_id: Any) -> TestDataSet:
    """Return the project's test-data set with this id or raise 404."""
    return get_or_404(TestDataSet, public_id, project=project)


def list_data_sets(project: Project) -> list[TestDataSet]:
    return list(
        db.session.scalars(
            select(TestDataSet).where(TestDataSet.project_id == project.id).order_by(TestDataSet.id)
        )
    )


def serialize_data_set(data_set: TestDataSet) -> dict:
    return {
        "id": data_set.public_id,
        "projectId": Project.format_id(data_set.project_id),
        "name": data_set.name,
        "variables": data_set.variables or {},
        "createdAt": isoformat(data_set.created_at),
    }


def delete(item: Environment | TestDataSet, *, actor: User | None = None) -> None:
    """Delete an environment (with its secrets) or a test-data set; only an admin (or the CLI) may."""
    require_admin(actor)
    with write():
        db.session.delete(item)


# -- resolution -------------------------------------------------------------------------------------


def resolve(
    project: Project,
    environment: Environment | None,
    data_set: TestDataSet | None,
    trigger_variables: dict[str, str],
) -> tuple[dict[str, str], list[str]]:
    """Return the run's {{NAME}} values in precedence order and the list of secret values to mask."""
    values: dict[str, str] = dict(project.variables or {})
    if data_set is not None:
        values.update(data_set.variables or {})
    secret_values: list[str] = []
    if environment is not None:
        values.update(environment.variables or {})
        for name, token in (environment.secrets or {}).items():
            values[name] = vault.decrypt(token, name)
            secret_values.append(values[name])
    values.update(trigger_variables)
    return values, secret_values


def for_options(project: Project, options: dict) -> tuple[Environment | None, dict[str, str], list[str]]:
    """What a run's (or a crawl's) stored options name: its environment (or None), and its {{NAME}} values and
    secret values, decrypted in memory (SecretUnreadable when a secret cannot be)."""
    environment, data_set = (
        _by_key(model, options.get(field))
        for model, field in ((Environment, "environmentId"), (TestDataSet, "testDataSetId"))
    )
    values, secret_values = resolve(project, environment, data_set, options.get("variables") or {})
    return environment, values, secret_values


def site_url(project: Project, environment: Environment | None, base_url: str | None) -> str:
    """The one rule for where a run's (or a crawl's) pages are: the trigger's baseUrl, else its environment's
    base URL, else the project's."""
    return base_url or (environment.base_url if environment else None) or project.base_url


def _by_key(model, public_id: str | None):
    key = model.key_of(public_id)
    return db.session.get(model, key) if key else None


def substitute(steps: list[dict], values: dict[str, str]) -> list[dict]:
    """Fill {{NAME}} in every string of the steps; raise UndefinedVariable for the first unknown name."""

    def fill(value: Any, index: int) -> Any:
        if isinstance(value, str):

            def one(match: re.Match) -> str:
                name = match.group(1)
                if name not in values:
                    raise UndefinedVariable(index, name)
                return values[name]

            return PLACEHOLDER.sub(one, value)
        if isinstance(value, dict):
            return {k: fill(v, index) for k, v in value.items()}
        return value

    return [fill(step, index) for index, step in enumerate(steps, start=1)]
