"""Playwright browser servers (SENTRI_BROWSER_SERVERS): where workers connect instead of launching.

status() is what the health endpoint and /metrics report about them: one row per configured endpoint."""

from __future__ import annotations

from typing import Any


def status() -> list[dict[str, Any]]:
    """One row per configured endpoint: {"endpoint", "state", "capacity", "busy", "error"}; [] when browsers
    are launched locally."""
    return []
