"""The one validation layer: every body a user sends (API JSON, a page's form, the CLI's arguments) is checked by
a pydantic model that lives beside the domain function it feeds, built from the field types below; a failure is
one 400 whose sentence names each field and whose `fields` let a page show each problem beside its input.

pydantic (already what the test format is checked with) rather than a second library: strict types, aliases
for the API's camelCase, every problem at once, and validators for the rules a type cannot say."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeGuard, TypeVar
from urllib.parse import urlsplit

from flask import has_app_context, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from . import origins
from .errors import ValidationFailed
from .settings import settings

M = TypeVar("M", bound=BaseModel)
# No request needs more; a body nested deeper is refused before any code walks it recursively.
MAX_JSON_DEPTH = 64


def nesting_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Return how deeply lists and objects nest in `value` (walked without recursion), stopping past `limit`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str | bytes) -> Any:
    """Decode JSON, refusing (400) what is not JSON or nests deeper than MAX_JSON_DEPTH levels."""
    too_deep = f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels of lists and objects)."
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValidationFailed(too_deep) from None
    except ValueError:
        raise ValidationFailed("The request body must be a JSON object.") from None
    if nesting_depth(data) > MAX_JSON_DEPTH:
        raise ValidationFailed(too_deep)
    return data


def json_body() -> Any:
    """Return the request's decoded JSON body (whatever its Content-Type), or None when it is empty."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    return load_json(raw)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with load_json's depth limit, so that no request.get_json() can recurse without bound."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s)


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused by name, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def problem(message: str) -> PydanticCustomError:
    """The error a field validator raises: `message` is shown as written, after the field's name."""
    return PydanticCustomError("sentri", message)


def describe(exc: ValidationError, model: type[BaseModel] | None = None) -> ValidationFailed:
    """Turn pydantic errors into one 400 with a sentence per field: 'baseUrl: must be an http(s) URL'.
    Unknown fields are named together, with the fields that are accepted."""
    problems: list[tuple[str | None, str]] = []
    unknown: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if loc[-1:] == ["[key]"]:  # a bad key of an object: the problem is the object's
            loc = loc[:-2]
        field = ".".join(loc) or None
        kind = error["type"]
        if kind == "extra_forbidden":
            unknown.append(field or "body")
        elif kind == "missing":
            problems.append((field, "is required"))
        elif kind == "sentri":
            problems.append((field, error["msg"]))
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append((field, f"{message[0].lower()}{message[1:]}"))
    if unknown:
        accepted = f" (accepted: {', '.join(accepted_fields(model))})" if model is not None else ""
        problems.insert(0, (", ".join(unknown), f"unknown field{accepted}"))
    return ValidationFailed.on_each(problems)


def accepted_fields(model: type[BaseModel]) -> list[str]:
    """Return the names a body of `model` may carry, as the API spells them."""
    return [info.alias or name for name, info in model.model_fields.items()]


def json_object() -> dict[str, Any]:
    """Return the request's JSON body, which must be an object (400 otherwise)."""
    data = json_body()
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return data


def parse(model: type[M], data: Any, *, empty_ok: bool = False) -> M:
    """Validate a decoded body (JSON, a form's values, CLI arguments) against `model`, raising a 400 naming
    every bad field. `empty_ok`: no body at all (None) counts as {}."""
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe(exc, model) from None


# -- field types: each says its rule once, for every body that has such a field ---------------------------


def rule(check: Callable[[Any], Any]) -> BeforeValidator:
    """Run `check` on a field's value before its type is checked, letting None through (the field's type
    says whether it may be null); `check` returns the value to keep or raises problem(...)."""
    return BeforeValidator(lambda value: value if value is None else check(value))


# Each field type comes two ways: text(...) is the type itself, for a class body; text_rule(...) is its check,
# for `Annotated[str, text_rule(...)]`, the spelling a type checker reads (it cannot read a call as a type).


def text_rule(limit: int, *, required: bool = True) -> BeforeValidator:
    """The check of text(limit): stripped, 1 (0 unless `required`) to `limit` characters."""
    requirement = f"must be 1 to {limit} characters" if required else f"must be at most {limit} characters"

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise problem(f"must be a string ({requirement[8:]})")
        value = value.strip()
        if len(value) > limit or (required and not value):
            raise problem(requirement)
        return value

    return rule(check)


def text(limit: int, *, required: bool = True) -> Any:
    """A string field, stripped, of 1 (0 unless `required`) to `limit` characters."""
    return Annotated[str, text_rule(limit, required=required)]


def one_of_rule(choices: tuple[str, ...]) -> BeforeValidator:
    """The check of one_of(choices)."""

    def check(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            raise problem(f"must be one of {', '.join(choices)}")
        return value

    return BeforeValidator(check)


def one_of(choices: tuple[str, ...]) -> Any:
    """A string field whose value is one of `choices`."""
    return Annotated[str, one_of_rule(choices)]


def is_number(value: object) -> TypeGuard[int | float]:
    """Tell whether a value is a finite JSON number (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def number_rule(low: float, high: float | None, message: str, *, whole: bool = False) -> BeforeValidator:
    """The check of number(low, high, message, whole=whole), for `Annotated[int | float | None, number_rule(...)]`."""

    def check(value: object) -> int | float:
        if (
            not is_number(value)
            or (whole and not isinstance(value, int))
            or value < low
            or (high is not None and value > high)
        ):
            raise problem(message)
        return value

    return rule(check)


def number(low: float, high: float | None, message: str, *, whole: bool = False) -> Any:
    """A finite number (an int when `whole`) in [low, high] (no upper bound when high is None), or null;
    kept as given (100 stays 100, not 100.0)."""
    return Annotated[int | float | None, number_rule(low, high, message, whole=whole)]


def given(body: BaseModel) -> dict[str, Any]:
    """The fields a body carried (null included), as the API spells them: a PATCH's changes."""
    return {
        info.alias or name: getattr(body, name)
        for name, info in type(body).model_fields.items()
        if name in body.model_fields_set
    }


def _web_url(value: Any) -> str:
    if not isinstance(value, str):
        raise problem("must be a string")
    try:
        return check_http_url(value).rstrip("/")
    except ValueError as exc:
        raise problem(str(exc)) from None


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise problem("must be true or false")
    return value


VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE = 10_000


def _variable_name(value: Any) -> str:
    if not isinstance(value, str) or not VARIABLE_NAME.match(value):
        raise problem(f"{value!r} is not a variable name (letters, digits, _)")
    return value


def _variable_value(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise problem(f"must be a string of at most {MAX_VALUE} characters")
    return value


def _variables(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise problem("must be an object of NAME: value")
    return value


Name = Annotated[str, text_rule(200)]
WebUrl = Annotated[str, rule(_web_url)]  # an http(s) URL a browser may open, no trailing /
Flag = Annotated[bool, BeforeValidator(_flag)]
VariableName = Annotated[str, BeforeValidator(_variable_name)]
Variables = Annotated[  # {NAME: value}
    dict[VariableName, Annotated[str, BeforeValidator(_variable_value)]], rule(_variables)
]
VariableChanges = Annotated[  # {NAME: value to set, or null to remove}
    dict[VariableName, Annotated[str | None, rule(_variable_value)]],
    rule(_variables),
]


def check_http_url(value: str, field: str = "baseUrl") -> str:
    """Return an http(s) URL with a host (as a browser reads it), or raise ValueError saying what is wrong.
    A host that is an address in SENTRI_BROWSER_BLOCKED_NETWORKS (link-local) is refused too."""
    value = origins.browser_form(value)
    if len(value) > 2048:
        raise ValueError("must be at most 2048 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("must be an absolute http:// or https:// URL with a valid host and port") from None
    if parts.scheme.lower() not in origins.WEB_SCHEMES or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    literal = origins.ip_literal(parts.hostname)
    networks = settings().blocked_networks if has_app_context() else ()
    network = origins.blocked_network(literal, networks) if literal is not None else None
    if network is not None:
        raise ValueError(
            f"must not point at {literal}: the browser never goes to {network} "
            "(link-local; SENTRI_BROWSER_BLOCKED_NETWORKS)"
        )
    return value
