"""Pydantic's validation errors as the sentences the test format reports: one per problem, naming the
field ('"target.css"', '"tags" item 2') and what was wrong with the value given."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

MAX_STEPS = 500  # the test format's bound, named in its sentence
MAX_MASKS = 20  # expect_screenshot's masks at most


def show(value: Any) -> str:
    """Render an offending input briefly, JSON-style."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(loc: tuple) -> str:
    """Name a field path: '"target.css"', '"tags" item 2'."""
    names = ".".join(str(p) for p in loc if isinstance(p, str))
    items = "".join(f" item {p + 1}" for p in loc if isinstance(p, int))
    return f'"{names}"{items}' if names else "it"


def _sentence(err: dict) -> str:
    """Turn one pydantic error into a sentence."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    where, got = _where(loc), show(err.get("input"))
    if kind == "sentri":  # a whole sentence from a validator
        return err["msg"]
    if kind == "nul":
        return f"{where} must not contain NUL characters"
    if kind == "blank":
        return f"{where} must not be empty"
    if kind == "missing":
        return f"missing field {where}"
    if kind in ("string_type", "string_sub_type"):
        return f"{where} must be a string (got {got})"
    if kind in ("float_type", "float_parsing"):
        return f"{where} must be a number (got {got})"
    if kind == "too_long" and loc[-1:] == ("mask",):
        return f"{where} holds at most {MAX_MASKS} targets (got {ctx.get('actual_length')})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{where} must be a whole number (got {got})"
    if kind == "bool_type":
        return f"{where} must be true or false (got {got})"
    if kind == "list_type":
        return f"{where} must be a list (got {got})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where} must be a mapping (got {got})"
    if kind == "literal_error":
        return f"{where} must be one of {str(ctx.get('expected', '')).replace(chr(39), '')} (got {got})"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = "at least" if kind == "greater_than_equal" else "at most"
        return f"{where} must be {bound} {ctx.get('ge', ctx.get('le'))} (got {got})"
    if kind == "too_short" and loc == ("steps",):
        return '"steps" must not be empty'
    if kind == "too_long" and loc == ("steps",):
        return f'"steps" has {ctx.get("actual_length")} steps (at most {MAX_STEPS})'
    if kind == "string_too_long":
        return f"{where} is too long ({len(err['input'])} characters, at most {ctx.get('max_length')})"
    return f"{where}: {err['msg']}"


def sentences(exc: ValidationError, strip: int, allowed: dict[tuple, tuple[str, ...]]) -> list[str]:
    """Translate a ValidationError, grouping unknown keys per mapping; drop `strip` loc prefixes."""
    out, unknown = [], {}
    for err in exc.errors():
        err = dict(err, loc=tuple(err["loc"])[strip:])
        if err["type"] == "extra_forbidden":
            unknown.setdefault(err["loc"][:-1], []).append(str(err["loc"][-1]))
        else:
            out.append(_sentence(err))
    for parent, keys in unknown.items():
        names = ", ".join(f'"{k}"' for k in keys)
        plural = "s" if len(keys) > 1 else ""
        if parent:
            what = f"unknown key{plural} {names} in {_where(parent)}"
        else:
            what = f"unknown field{plural} {names}"
        out.append(f"{what} (allowed: {', '.join(allowed.get(parent, ()))})")
    return out
