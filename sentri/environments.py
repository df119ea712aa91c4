"""Environments and test-data sets: the {{NAME}} values a run fills into its tests' steps.

Precedence, lowest first: the project's default variables < the test-data set < the environment's
variables and secrets < the trigger's `variables`. Secrets are encrypted at rest (vault.py), never
returned after creation, and masked (••••) wherever a run reports text."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from . import vault
from .database import write
from .errors import ValidationFailed
from .extensions import db
from .models import Environment, Project, TestDataSet, User, get_or_404, isoformat
from .users import require_admin
from .validation import check_http_url

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_VALUE = 10_000


class UndefinedVariable(Exception):
    """A step names a {{NAME}} the run has no value for."""

    def __init__(self, index: int, name: str) -> None:
        super().__init__(f"step {index}: the variable {{{{{name}}}}} is not defined for this run")
        self.index = index


def clean_variables(value: Any, field: str, *, allow_null: bool = False) -> dict[str, str | None]:
    """Validate a {NAME: value} object (values strings; null only where allowed, meaning 'remove')."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed.on(field, "must be an object of NAME: value")
    for name, item in value.items():
        if not _NAME.match(name):
            raise ValidationFailed.on(field, f"{name!r} is not a variable name (letters, digits, _)")
        if item is None and allow_null:
            continue
        if not isinstance(item, str) or len(item) > MAX_VALUE:
            raise ValidationFailed.on(f"{field}.{name}", f"must be a string of at most {MAX_VALUE} characters")
    return dict(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValidationFailed.on("name", "must be 1 to 200 characters")
    return value.strip()


def _base_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed.on("baseUrl", "must be a string")
    try:
        return check_http_url(value).rstrip("/")
    except ValueError as exc:
        raise ValidationFailed.on("baseUrl", f"{exc}") from None


def _only(body: Any, allowed: tuple[str, ...]) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationFailed(f"{', '.join(unknown)}: unknown field (accepted: {', '.join(allowed)})")
    return body


# -- environments ----------------------------------------------------------------------------------

def create_environment(project: Project, body: Any) -> Environment:
    """Create an environment from {name, baseUrl?, variables?, secrets?}."""
    body = _only(body, ("name", "baseUrl", "variables", "secrets"))
    environment = Environment(
        project_id=project.id,
        name=_name(body.get("name")),
        base_url=_base_url(body.get("baseUrl")),
        variables=clean_variables(body.get("variables"), "variables"),
        secrets={k: vault.encrypt(v) for k, v in clean_variables(body.get("secrets"), "secrets").items()},
    )
    with write():
        db.session.add(environment)
    return environment


def update_environment(environment: Environment, body: Any, *, actor: User | None = None) -> Environment:
    """Edit an environment; `variables` replaces them all, `secrets` sets (a string) or removes (null) each.
    Removing a secret is a deletion: only an admin (or the CLI, actor=None) may."""
    body = _only(body, ("name", "baseUrl", "variables", "secrets"))
    if "secrets" in body:
        changes = clean_variables(body["secrets"], "secrets", allow_null=True)
        if any(value is None for value in changes.values()):
            require_admin(actor)
    with write():
        if "name" in body:
            environment.name = _name(body["name"])
        if "baseUrl" in body:
            environment.base_url = _base_url(body["baseUrl"])
        if "variables" in body:
            environment.variables = clean_variables(body["variables"], "variables")
        if "secrets" in body:
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
    return list(db.session.scalars(select(Environment).where(Environment.project_id == project.id)
                                   .order_by(Environment.id)))


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

def create_data_set(project: Project, body: Any) -> TestDataSet:
    body = _only(body, ("name", "variables"))
    data_set = TestDataSet(project_id=project.id, name=_name(body.get("name")),
                           variables=clean_variables(body.get("variables"), "variables"))
    with write():
        db.session.add(data_set)
    return data_set


def update_data_set(data_set: TestDataSet, body: Any, *, actor: User | None = None) -> TestDataSet:
    """Edit a test-data set's name and/or variables (any user: nothing is deleted)."""
    body = _only(body, ("name", "variables"))
    with write():
        if "name" in body:
            data_set.name = _name(body["name"])
        if "variables" in body:
            data_set.variables = clean_variables(body["variables"], "variables")
    return data_set


def get_data_set(project: Project, public_id: Any) -> TestDataSet:
    """Return the project's test-data set with this id or raise 404."""
    return get_or_404(TestDataSet, public_id, project=project)


def list_data_sets(project: Project) -> list[TestDataSet]:
    return list(db.session.scalars(select(TestDataSet).where(TestDataSet.project_id == project.id)
                                   .order_by(TestDataSet.id)))


def serialize_data_set(data_set: TestDataSet) -> dict:
    return {"id": data_set.public_id, "projectId": Project.format_id(data_set.project_id), "name": data_set.name,
            "variables": data_set.variables or {}, "createdAt": isoformat(data_set.created_at)}


def delete(item: Environment | TestDataSet, *, actor: User | None = None) -> None:
    """Delete an environment (with its secrets) or a test-data set; only an admin (or the CLI) may."""
    require_admin(actor)
    with write():
        db.session.delete(item)


# -- resolution -------------------------------------------------------------------------------------

def resolve(project: Project, environment: Environment | None, data_set: TestDataSet | None,
            trigger_variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
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


def substitute(steps: list[dict], values: dict[str, str]) -> list[dict]:
    """Fill {{NAME}} in every string of the steps; raise UndefinedVariable for the first unknown name."""

    def fill(value: Any, index: int) -> Any:
        if isinstance(value, str):
            def one(match: re.Match) -> str:
                name = match.group(1)
                if name not in values:
                    raise UndefinedVariable(index, name)
                return values[name]

            return _PLACEHOLDER.sub(one, value)
        if isinstance(value, dict):
            return {k: fill(v, index) for k, v in value.items()}
        return value

    return [fill(step, index) for index, step in enumerate(steps, start=1)]
