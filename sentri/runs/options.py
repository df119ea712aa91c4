"""What a trigger may ask for, on either CI surface: validated, clamped, and refused by name.

Both surfaces (POST /api/v1/projects/:id/trigger and POST /api/v1/ci/trigger) accept the same run
options, so a pipeline moves between them by changing a URL and a secret."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from .. import ssrf
from ..crawl.settings import CrawlFields, CrawlSettings, GenerationDials, clamped, settings_from
from ..github.state import initial_state
from ..models import TestCase
from ..policies import regression
from ..policies.selection import DEFAULT_RECENT_DAYS, STRATEGIES, Selection
from ..settings import settings
from ..validation import Flag, Variables, WebUrl, one_of, parse, problem, rule
from ..worker.browsers import ENGINES, engine_unavailable

MAX_PARALLEL_WORKERS = 10
MAX_RETRIES = 3
MAX_BUDGET_MINUTES = 240
DEVICES = ("desktop", "mobile")
# The scan options that mean nothing without a crawl: a request naming one without crawl: true is told so.
CRAWL_ONLY = ("crawlPages", "maxPages", "maxDepth", "fillForms", "respectRobots")
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")


@dataclass
class RunOptions:
    """What a trigger asked for, validated and clamped."""

    parallel_workers: int = 1
    retries: int = 0
    vitals_samples: int | None = None  # None: the project's vitalsSamples
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
    branch: str | None = None  # None: the run counts as on the project's baseline branch
    commit_sha: str | None = None
    crawl: CrawlSettings | None = None  # crawl: true (or generateTests): the run scans its site first
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "dialsConfig": {
                "parallelWorkers": self.parallel_workers,
                "retries": self.retries,
                "vitalsSamples": self.vitals_samples,
            },
            "budgetMinutes": self.budget_minutes,
            "changedPages": self.changed_pages,
            "baseUrl": self.base_url,
            "browserProfile": self.browser,
            "device": self.device,
            "environmentId": self.environment_id,
            "testDataSetId": self.data_set_id,
            "variables": self.variables,
            "branch": self.branch,
            "commitSha": self.commit_sha,
            "crawl": self.crawl.as_json() if self.crawl else None,
            **self.extra,
        }


def _budget(value: Any) -> float | None:
    # The seed: malformed budgets fall back to "no budget", never an error.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        return None
    return float(min(value, MAX_BUDGET_MINUTES))


def callback_allowlist() -> ssrf.Allowlist:
    """Return the configured SENTRI_CALLBACK_ALLOWLIST (parsed once, at start)."""
    return settings().allowlist


def _strings(limit: int) -> BeforeValidator:
    def check(value: Any) -> list[str]:
        if (
            not isinstance(value, list)
            or not all(isinstance(v, str) and v for v in value)
            or len(value) > limit
        ):
            raise problem(f"must be a list of non-empty strings (at most {limit})")
        return value

    return BeforeValidator(check)


def _case_ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem("must be a non-empty list of test ids like TST-7")
    keys = {v: TestCase.key_of(v) for v in value}
    bad = [v for v, key in keys.items() if key is None]
    if bad:
        raise problem(f"not test ids: {', '.join(bad)}")
    return list(dict.fromkeys(keys.values()))


def _suite_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem("must be a non-empty list of suite ids like SUI-2")
    return list(dict.fromkeys(value))


def _recent_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
        raise problem("must be a whole number of days from 1 to 365")
    return value


def _browser(value: Any) -> str:
    if value not in ENGINES:
        raise problem(f"must be one of {', '.join(ENGINES)}")
    # An engine the caller chose must exist here (400). The default Chromium missing is the server's
    # problem, not the request's: that run fails with "The browser could not start: ...". With browser
    # servers, the servers have what they have: a missing engine fails the run the same way.
    remote = bool(settings().browser_server_list)
    missing = engine_unavailable(value) if value != "chromium" and not remote else None
    if missing:
        raise problem(f"{missing}")
    return value


def _repo(value: Any) -> str:
    if not isinstance(value, str) or not _REPO.match(value) or value.split("/")[1] in (".", ".."):
        raise problem("must be owner/name")
    return value


def _pr_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise problem("must be a positive integer")
    return value


def _sha(value: Any) -> str:
    if not isinstance(value, str) or not _SHA.match(value):
        raise problem("must be a 40-character hexadecimal commit SHA")
    return value.lower()


def _commit(value: Any) -> str:
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise problem("must be a commit SHA: 7 to 40 hexadecimal characters")
    return value.lower()


def _string(what: str) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise problem(f"must be {what}")
        return value

    return rule(check)


def _callback_url(value: Any) -> str:
    if not isinstance(value, str):
        raise problem("must be a string")
    try:
        ssrf.check_url(value, callback_allowlist(), field="callbackUrl")
    except ssrf.UnsafeURLError as exc:
        raise problem(str(exc).removeprefix("callbackUrl ")) from None
    return value


def _object(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise problem("must be an object")
    return value


class Dials(GenerationDials):
    """dialsConfig: the run's dials and the generation dials of a crawl's drafts; others are ignored."""

    parallel_workers: Annotated[int, clamped(1, MAX_PARALLEL_WORKERS)] = Field(1, alias="parallelWorkers")
    retries: Annotated[int, clamped(0, MAX_RETRIES)] = 0
    vitals_samples: Annotated[int | None, clamped(1, regression.MAX_SAMPLES)] = Field(
        None, alias="vitalsSamples"
    )


class CiTrigger(CrawlFields):
    """A trigger body on POST /api/v1/ci/trigger (the AegisRunner surface)."""

    callback_url: Annotated[str | None, rule(_callback_url)] = Field(None, alias="callbackUrl")
    budget_minutes: Annotated[float | None, BeforeValidator(_budget)] = Field(None, alias="budgetMinutes")
    wait: Flag = False
    case_ids: Annotated[list[int] | None, rule(_case_ids)] = Field(None, alias="caseIds")
    suite_ids: Annotated[list[str] | None, rule(_suite_ids)] = Field(None, alias="suiteIds")
    selection_strategy: one_of(STRATEGIES) | None = Field(None, alias="selectionStrategy")  # type: ignore[valid-type]
    changed_files: Annotated[list[str], _strings(5000)] = Field(default_factory=list, alias="changedFiles")
    changed_pages: Annotated[list[str], _strings(1000)] = Field(default_factory=list, alias="changedPages")
    recent_days: Annotated[int, BeforeValidator(_recent_days)] = Field(
        DEFAULT_RECENT_DAYS, alias="recentDays"
    )
    base_url: WebUrl | None = Field(None, alias="baseUrl")
    browser_profile: Annotated[str, BeforeValidator(_browser)] = Field("chromium", alias="browserProfile")
    device: one_of(DEVICES) = "desktop"  # type: ignore[valid-type]
    environment_id: Annotated[str | None, _string("an id string")] = Field(None, alias="environmentId")
    test_data_set_id: Annotated[str | None, _string("an id string")] = Field(None, alias="testDataSetId")
    variables: Variables | None = None
    github_repo: Annotated[str | None, rule(_repo)] = Field(None, alias="githubRepo")
    github_pr_number: Annotated[int | None, rule(_pr_number)] = Field(None, alias="githubPrNumber")
    github_commit_sha: Annotated[str | None, rule(_sha)] = Field(None, alias="githubCommitSha")
    github_token: Annotated[str | None, _string("a string")] = Field(None, alias="githubToken", repr=False)
    branch: Annotated[str | None, rule(regression.branch_name)] = None
    commit_sha: Annotated[str | None, rule(_commit)] = Field(None, alias="commitSha")

    @model_validator(mode="before")
    @classmethod
    def _crawl_fields_need_crawl(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("crawl") is not True and data.get("generateTests") is not True:
            named = [name for name in CRAWL_ONLY if name in data]
            if named:
                raise problem(
                    f'{", ".join(named)}: only applies with "crawl": true (site scanning before the run)'
                )
        return data

    @model_validator(mode="after")
    def _github_together(self) -> CiTrigger:
        if self.github_token is not None:
            self.github_token = self.github_token.strip()
        given = (self.github_pr_number, self.github_commit_sha, self.github_token)
        if self.github_repo is None and any(v is not None for v in given):
            raise problem("githubRepo: required with githubPrNumber, githubCommitSha or githubToken")
        if self.github_token and self.github_pr_number is None and self.github_commit_sha is None:
            raise problem("githubPrNumber or githubCommitSha: one is needed to post to GitHub")
        return self


class SentriTrigger(CiTrigger):
    """A trigger body on POST /api/v1/projects/:id/trigger (the Sentri surface): dialsConfig too."""

    dials: Annotated[Dials, BeforeValidator(_object)] = Field(default_factory=Dials, alias="dialsConfig")


def parse_options(
    body: Any, *, surface: str = "sentri", previous_crawl: dict[str, Any] | None = None
) -> RunOptions:
    """Validate a trigger body (decoded JSON, None for an empty body) into RunOptions. `previous_crawl`: the
    settings of the project's last crawl, which maxPages / maxDepth default to."""
    data = parse(SentriTrigger if surface == "sentri" else CiTrigger, body, empty_ok=True)
    dials = data.dials if isinstance(data, SentriTrigger) else Dials()
    options = RunOptions(
        parallel_workers=dials.parallel_workers,
        retries=dials.retries,
        vitals_samples=dials.vitals_samples,
        callback_url=data.callback_url,
        budget_minutes=data.budget_minutes,
        changed_pages=data.changed_pages,
        wait=data.wait,
        selection=Selection(
            case_ids=data.case_ids,
            suite_ids=data.suite_ids,
            strategy=data.selection_strategy,
            changed_files=data.changed_files,
            changed_pages=data.changed_pages,
            recent_days=data.recent_days,
        ),
        base_url=data.base_url,
        browser=data.browser_profile,
        device=data.device,
        environment_id=data.environment_id,
        data_set_id=data.test_data_set_id,
        variables=data.variables or {},
        branch=data.branch,
        commit_sha=data.commit_sha or data.github_commit_sha,
    )
    if data.crawl or data.generate_tests:  # drafts come from a crawl: generateTests alone crawls too
        options.crawl = settings_from(
            data, dials, previous=previous_crawl, concurrency=dials.parallel_workers
        )
    if data.github_repo is not None:
        options.github = initial_state(
            data.github_repo, data.github_pr_number, data.github_commit_sha, data.github_token
        )
        options.github_token = data.github_token or None
    return options
