"""The API's OpenAPI 3.1 description: a data file in the package (openapi.yaml), read once."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def description() -> dict[str, Any]:
    """Return the OpenAPI description as loaded from sentri/openapi.yaml (shared: never mutate it)."""
    text = resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def for_server(base_url: str) -> dict[str, Any]:
    """Return the description with `servers` naming this server's public base URL."""
    return {**description(), "servers": [{"url": base_url.rstrip("/") or "/"}]}
