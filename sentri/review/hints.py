"""How much page text a test's locator hints and heal proposals may hold.

An element's description (worker/locator_healing.py) is read from the page: its test id, accessible name, label,
text, placeholder, role attribute and a CSS path built from its classes. A page decides all of them, and
the hints are stored on the test and loaded with every run of it, so each value is a string of at most
MAX_HINT_CHARS characters, only the known fields are kept, and a value over the limit is left out.

Left out, not cut: each value is tried as an exact locator (a test id, a role and exact name, an exact
label), and a cut one would match nothing; a cut CSS path could even match another element. 200
characters hold any test id, label or CSS path a person writes (the accessible name and text are already
kept to 100 and 80); past that a value is generated, and a poor way to find the element again anyway.
"""

from __future__ import annotations

from typing import Any

MAX_HINT_CHARS = 200
HINT_FIELDS = ("role", "name", "label", "text", "testid", "placeholder", "css")


def clean(description: Any) -> dict[str, str]:
    """Keep a description's known fields whose values are strings of 1 to MAX_HINT_CHARS characters."""
    if not isinstance(description, dict):
        return {}
    return {
        field: value
        for field in HINT_FIELDS
        if isinstance(value := description.get(field), str) and 0 < len(value) <= MAX_HINT_CHARS
    }


def within_limit(target: dict) -> bool:
    """Tell whether every string of a target (a proposed heal) is at most MAX_HINT_CHARS characters."""
    return all(len(value) <= MAX_HINT_CHARS for value in target.values() if isinstance(value, str))
