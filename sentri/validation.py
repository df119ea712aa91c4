"""Request-body parsing with pydantic, turned into one readable 400 sentence naming the field."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused by name, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def describe(exc: ValidationError) -> str:
    """Turn pydantic errors into one sentence per field: 'baseUrl: must be an http(s) URL'."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "body"
        kind = error["type"]
        if kind == "extra_forbidden":
            parts.append(f"{field}: unknown field")
        elif kind == "missing":
            parts.append(f"{field}: is required")
        else:
            message = error["msg"].removeprefix("Value error, ")
            parts.append(f"{field}: {message[0].lower()}{message[1:]}")
    return "; ".join(parts)


def parse(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body against `model`, raising a 400 naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe(exc)) from None


def check_http_url(value: str, field: str = "baseUrl") -> str:
    """Return an http(s) URL with a host, or raise ValueError saying what is wrong."""
    value = value.strip()
    if len(value) > 2048:
        raise ValueError("must be at most 2048 characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    return value
