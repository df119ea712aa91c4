"""Blueprints: JSON API modules (api_*.py), HTML pages (pages*.py), the health check and the demo site."""

from __future__ import annotations

from flask import Flask

from . import (
    api_auth,
    api_ci,
    api_crawls,
    api_environments,
    api_openapi,
    api_projects,
    api_review,
    api_runs,
    api_schedules,
    api_settings,
    api_suites,
    api_tests,
    api_tokens,
    api_trigger,
    api_users,
    demo,
    health,
    pages,
    pages_account,
    pages_automation,
    pages_baseline,
    pages_common,
    pages_crawls,
    pages_new_test,
    pages_project,
    pages_runs,
    pages_schedules,
    pages_settings,
    pages_tests,
    pages_users,
)
from .input_guard import refuse_unstorable_characters

# The page modules add their views to pages_common.bp when imported (above); it is registered once.
_PAGE_VIEWS = (
    pages,
    pages_account,
    pages_automation,
    pages_baseline,
    pages_crawls,
    pages_project,
    pages_runs,
    pages_schedules,
    pages_new_test,
    pages_settings,
    pages_tests,
    pages_users,
)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app, and the input checks every request goes through."""
    app.before_request(refuse_unstorable_characters)
    for module in (
        health,
        api_auth,
        api_projects,
        api_tests,
        api_tokens,
        api_trigger,
        api_ci,
        api_runs,
        api_settings,
        api_suites,
        api_environments,
        api_schedules,
        api_users,
        api_crawls,
        api_review,
        api_openapi,
        pages_common,
        demo,
    ):
        app.register_blueprint(module.bp)
