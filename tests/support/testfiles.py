"""Tests in Sentri's test format (canonical JSON form, written as YAML) for the fixture site.

Every page test is: goto the page, click its button, expect_text the result, so the failing
step of a test whose text cannot match is step 3.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def page_test(
    name: str | int, site_url: str, *, tags: list[str] | None = None, test_name: str | None = None
) -> dict:
    """goto /page/<name>, click "Go <name>", expect "Done <name>" in #out."""
    return {
        "name": test_name or f"Page {name} says done",
        "tags": list(tags or []),
        "steps": [
            {"action": "goto", "url": f"{site_url.rstrip('/')}/page/{name}"},
            {"action": "click", "target": {"role": "button", "name": f"Go {name}", "exact": True}},
            {"action": "expect_text", "target": {"css": "#out"}, "text": f"Done {name}"},
        ],
    }


def failing_test(site_url: str, *, timeout_ms: int = 2000, test_name: str = "Fail page says done") -> dict:
    """goto /fail, click "Go fail", expect "Done" (the page says "Nope"): fails at step 3.

    The step's own `timeout` keeps the failing assertion from waiting the default 15 s."""
    return {
        "name": test_name,
        "tags": [],
        "steps": [
            {"action": "goto", "url": f"{site_url.rstrip('/')}/fail"},
            {"action": "click", "target": {"role": "button", "name": "Go fail", "exact": True}},
            {"action": "expect_text", "target": {"css": "#out"}, "text": "Done", "timeout": timeout_ms},
        ],
    }


def wait_test(name: str, site_url: str, ms: int, *, tags: list[str] | None = None) -> dict:
    """goto /page/<name>, wait `ms`, then click and expect like a page test."""
    test = page_test(name, site_url, tags=tags, test_name=f"Page {name} after waiting {ms} ms")
    test["steps"].insert(1, {"action": "wait", "ms": ms})
    return test


def write_tests(path: str | Path, tests: list[dict]) -> Path:
    """Write a list of tests as a YAML file and return its path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(tests, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def make_tests(
    n: int,
    site_url: str,
    path: str | Path,
    *,
    start: int = 1,
    extra: list[dict] | None = None,
    tags: list[str] | None = None,
) -> Path:
    """Write a YAML file of `n` page tests (pages start..start+n-1), plus `extra` tests, to `path`."""
    tests = [page_test(i, site_url, tags=tags) for i in range(start, start + n)]
    tests.extend(extra or [])
    return write_tests(path, tests)
