"""What a trigger may ask for, on either CI surface: validated, clamped, and refused by name.

Both surfaces (POST /api/v1/projects/:id/trigger and POST /api/v1/ci/trigger) accept the same run
options, so a pipeline moves between them by changing a URL and a secret."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .. import ssrf
from ..environments import clean_variables
from ..errors import ValidationFailed
from ..github.state import initial_state
from ..models import TestCase
from ..validation import check_http_url
from ..worker.browsers import ENGINES, engine_unavailable
from .selection import DEFAULT_RECENT_DAYS, STRATEGIES, Selection

MAX_PARALLEL_WORKERS = 10
MAX_RETRIES = 3
MAX_BUDGET_MINUTES = 240
DEVICES = ("desktop", "mobile")
SENTRI_FIELDS = ("dialsConfig", "callbackUrl", "budgetMinutes")
SHARED_FIELDS = (
    "wait", "caseIds", "suiteIds", "selectionStrategy", "changedFiles", "changedPages", "recentDays",
    "baseUrl", "browserProfile", "device", "environmentId", "testDataSetId", "variables", "githubRepo", "githubPrNumber", "githubCommitSha", "githubToken",
)
# Site scanning is a later piece of work: a request that asks for it is told so, never ignored.
CRAWL_FIELDS = ("crawl", "crawlPages", "generateTests", "maxPages", "maxDepth", "fillForms", "respectRobots")
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass
class RunOptions:
    """What a trigger asked for, validated and clamped."""

    parallel_workers: int = 1
    retries: int = 0
    callback_url: str | None = None
    budget_minutes: float | None = None
    changed_pages: list[str] = field(default_factory=list)
    wait: bool = False
    selection: Selection = field(default_factory=Selection)
    base_url: str | None = None
    browser: str = "chromium"
    device: str = "desktop"
    github: dict[str, Any] | None = None  # repo / PR / sha and what will be posted: never the token
    github_token: str | None = field(default=None, repr=False)  # held in memory for the run only
    environment_id: str | None = None
    data_set_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "dialsConfig": {"parallelWorkers": self.parallel_workers, "retries": self.retries},
            "budgetMinutes": self.budget_minutes,
            "changedPages": self.changed_pages,
            "baseUrl": self.base_url,
            "browserProfile": self.browser,
            "device": self.device,
            "environmentId": self.environment_id,
            "testDataSetId": self.data_set_id,
            "variables": self.variables,
            **self.extra,
        }


def _clamped_int(dials: dict, name: str, low: int, high: int, default: int) -> int:
    value = dials.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed.on(f"dialsConfig.{name}", f"must be an integer from {low} to {high}")
    return max(low, min(high, int(value)))


def _budget(value: Any) -> float | None:
    # The seed: malformed budgets fall back to "no budget", never an error.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(min(value, MAX_BUDGET_MINUTES))


def callback_allowlist() -> ssrf.Allowlist:
    """Return the configured SENTRI_CALLBACK_ALLOWLIST."""
    return ssrf.Allowlist.parse(current_app.config.get("SENTRI_CALLBACK_ALLOWLIST") or "")


def _refuse_unknown(body: dict, accepted: tuple[str, ...]) -> None:
    crawl = [name for name in CRAWL_FIELDS if name in body]
    if crawl:
        raise ValidationFailed(
            f"{', '.join(crawl)}: site scanning (crawl) is not available on this server yet; "
            "remove the field to run the project's approved tests."
        )
    unknown = sorted(set(body) - set(accepted))
    if unknown:
        raise ValidationFailed(f"{', '.join(unknown)}: unknown field (accepted: {', '.join(accepted)})")


def _case_ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationFailed.on("caseIds", "must be a non-empty list of test ids like TST-7")
    keys = {v: TestCase.key_of(v) for v in value}
    bad = [v for v, key in keys.items() if key is None]
    if bad:
        raise ValidationFailed.on("caseIds", f"not test ids: {', '.join(bad)}")
    return list(dict.fromkeys(keys.values()))


def _strings(body: dict, name: str, limit: int = 1000) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > limit:
        raise ValidationFailed.on(name, f"must be a list of non-empty strings (at most {limit})")
    return value


def _selection(body: dict, changed_pages: list[str]) -> Selection:
    selection = Selection(changed_pages=changed_pages, changed_files=_strings(body, "changedFiles", 5000))
    if "caseIds" in body:
        selection.case_ids = _case_ids(body["caseIds"])
    if "suiteIds" in body:
        suites = body["suiteIds"]
        if not isinstance(suites, list) or not suites or not all(isinstance(v, str) for v in suites):
            raise ValidationFailed.on("suiteIds", "must be a non-empty list of suite ids like SUI-2")
        selection.suite_ids = list(dict.fromkeys(suites))
    strategy = body.get("selectionStrategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise ValidationFailed.on("selectionStrategy", f"must be one of {', '.join(STRATEGIES)}")
    selection.strategy = strategy
    days = body.get("recentDays", DEFAULT_RECENT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ValidationFailed.on("recentDays", "must be a whole number of days from 1 to 365")
    selection.recent_days = days
    return selection


def _github(body: dict, options: RunOptions) -> None:
    """Validate the GitHub fields; the record goes on the run, the token only into `options`."""
    repo, pr, sha, token = (body.get(k) for k in ("githubRepo", "githubPrNumber", "githubCommitSha", "githubToken"))
    if all(v is None for v in (repo, pr, sha, token)):
        return
    if repo is None:
        raise ValidationFailed.on("githubRepo", "required with githubPrNumber, githubCommitSha or githubToken")
    if not isinstance(repo, str) or not _REPO.match(repo) or repo.split("/")[1] in (".", ".."):
        raise ValidationFailed.on("githubRepo", "must be owner/name")
    if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int) or pr < 1):
        raise ValidationFailed.on("githubPrNumber", "must be a positive integer")
    if sha is not None and (not isinstance(sha, str) or not _SHA.match(sha)):
        raise ValidationFailed.on("githubCommitSha", "must be a 40-character hexadecimal commit SHA")
    if token is not None and not isinstance(token, str):
        raise ValidationFailed.on("githubToken", "must be a string")
    token = token.strip() if token is not None else None
    if token and pr is None and sha is None:
        raise ValidationFailed("githubPrNumber or githubCommitSha: one is needed to post to GitHub")
    options.github = initial_state(repo, pr, sha and sha.lower(), token)
    options.github_token = token or None


def parse_options(body: Any, *, surface: str = "sentri") -> RunOptions:
    """Validate a trigger body (decoded JSON, None for an empty body) into RunOptions."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    accepted = (SENTRI_FIELDS if surface == "sentri" else ("callbackUrl", "budgetMinutes")) + SHARED_FIELDS
    _refuse_unknown(body, accepted)
    dials = body.get("dialsConfig") or {}
    if not isinstance(dials, dict):
        raise ValidationFailed.on("dialsConfig", "must be an object")
    options = RunOptions(
        parallel_workers=_clamped_int(dials, "parallelWorkers", 1, MAX_PARALLEL_WORKERS, 1),
        retries=_clamped_int(dials, "retries", 0, MAX_RETRIES, 0),
        budget_minutes=_budget(body.get("budgetMinutes")),
    )
    pages = _strings(body, "changedPages")
    options.changed_pages = pages
    wait = body.get("wait", False)
    if not isinstance(wait, bool):
        raise ValidationFailed.on("wait", "must be true or false")
    options.wait = wait
    options.selection = _selection(body, pages)
    if body.get("baseUrl") is not None:
        if not isinstance(body["baseUrl"], str):
            raise ValidationFailed.on("baseUrl", "must be a string")
        try:
            options.base_url = check_http_url(body["baseUrl"]).rstrip("/")
        except ValueError as exc:
            raise ValidationFailed.on("baseUrl", f"{exc}") from None
    browser = body.get("browserProfile", "chromium")
    if browser not in ENGINES:
        raise ValidationFailed.on("browserProfile", f"must be one of {', '.join(ENGINES)}")
    # An engine the caller chose must exist here (400). The default Chromium missing is the server's
    # problem, not the request's: that run fails with "The browser could not start: ...".
    missing = engine_unavailable(browser) if browser != "chromium" else None
    if missing:
        raise ValidationFailed.on("browserProfile", f"{missing}")
    options.browser = browser
    device = body.get("device", "desktop")
    if device not in DEVICES:
        raise ValidationFailed.on("device", f"must be one of {', '.join(DEVICES)}")
    options.device = device
    _github(body, options)
    for name, attribute in (("environmentId", "environment_id"), ("testDataSetId", "data_set_id")):
        if body.get(name) is not None:
            if not isinstance(body[name], str):
                raise ValidationFailed.on(name, "must be an id string")
            setattr(options, attribute, body[name])
    options.variables = clean_variables(body.get("variables"), "variables")
    callback = body.get("callbackUrl")
    if callback is not None:
        if not isinstance(callback, str):
            raise ValidationFailed.on("callbackUrl", "must be a string")
        try:
            ssrf.check_url(callback, callback_allowlist(), field="callbackUrl")
        except ssrf.UnsafeURLError as exc:
            raise ValidationFailed(str(exc), fields={"callbackUrl": str(exc)}) from None
        options.callback_url = callback
    return options
