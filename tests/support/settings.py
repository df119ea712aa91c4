"""Changing a built app's settings in a test, as a restart with them would: parsed by the same Settings.load
that start uses, and swapped whole (the code reads one frozen Settings object)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from sentri.runtime import runtime
from sentri.settings import Settings


def override(app: Flask, **changes: Any) -> Settings:
    """Set SENTRI_* settings by their configuration names, e.g. override(app, SENTRI_MAX_WAITERS=0)."""
    app.config.update(changes)
    made = runtime(app).settings = Settings.load(app.config)
    return made
