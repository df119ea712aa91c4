"""Request-body parsing with pydantic, turned into one readable 400 sentence naming the field."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, has_app_context, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ConfigDict, ValidationError

from . import origins
from .errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)
# No request needs more; a body nested deeper is refused before any code walks it recursively.
MAX_JSON_DEPTH = 64


def nesting_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Return how deeply lists and objects nest in `value` (walked without recursion), stopping past `limit`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
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


def describe(exc: ValidationError) -> ValidationFailed:
    """Turn pydantic errors into one 400 with a sentence per field: 'baseUrl: must be an http(s) URL'."""
    problems: list[tuple[str | None, str]] = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "body"
        kind = error["type"]
        if kind == "extra_forbidden":
            problems.append((field, "unknown field"))
        elif kind == "missing":
            problems.append((field, "is required"))
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append((field, f"{message[0].lower()}{message[1:]}"))
    return ValidationFailed.on_each(problems)


def json_object() -> dict:
    """Return the request's JSON body, which must be an object (400 otherwise)."""
    data = json_body()
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return data


def parse(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body against `model`, raising a 400 naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe(exc) from None


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
    networks = current_app.config.get("BROWSER_BLOCKED_NETWORKS", ()) if has_app_context() else ()
    network = origins.blocked_network(literal, networks) if literal is not None else None
    if network is not None:
        raise ValueError(f"must not point at {literal}: the browser never goes to {network} "
                         "(link-local; SENTRI_BROWSER_BLOCKED_NETWORKS)")
    return value
