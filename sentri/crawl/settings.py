"""What a crawl may be asked for, on a trigger (crawl: true and its fields) or on its own
(POST /api/v1/projects/:id/crawls, the UI's Crawl button, `flask crawl`): validated, clamped, refused by name."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..validation import Body, Flag, WebUrl, problem, rule
from .drafts import PERSPECTIVES

DEFAULT_MAX_PAGES = 30
MAX_PAGES = 500
DEFAULT_MAX_DEPTH = 3
MAX_DEPTH = 10
MAX_CRAWL_PAGES = 100
MAX_TEST_COUNT = 200
KNOWN_PERSPECTIVES = tuple(PERSPECTIVES)  # the draft generators (drafts.py says what each makes)


def clamped(low: int, high: int) -> BeforeValidator:
    """A whole number clamped into [low, high]; anything else is refused."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise problem(f"must be an integer from {low} to {high}")
        return max(low, min(high, int(value)))

    return BeforeValidator(check)


def _crawl_pages(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_CRAWL_PAGES:
        raise problem(f'must be a list of at most {MAX_CRAWL_PAGES} paths ("/pricing") or URLs of the site')
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > 2048:
            raise problem('must hold non-empty strings: paths ("/pricing") or URLs of the site')
        if not (item.startswith("/") or item.lower().startswith(("http://", "https://"))):
            raise problem(f"{item[:80]!r} is neither a path starting with / nor an http(s) URL")
    return list(dict.fromkeys(value))


def _perspectives(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem(f"must be a non-empty list of perspectives (known: {', '.join(KNOWN_PERSPECTIVES)})")
    unknown = [v for v in value if v not in KNOWN_PERSPECTIVES]
    if unknown:
        raise problem(f'unknown perspective "{unknown[0][:60]}" (known: {", ".join(KNOWN_PERSPECTIVES)})')
    return list(dict.fromkeys(value))


def _id_string(value: Any) -> str:
    if not isinstance(value, str):
        raise problem("must be an id string")
    return value


class CrawlFields(Body):
    """The AegisRunner scan fields, on either trigger surface."""

    crawl: Flag = False
    crawl_pages: Annotated[list[str] | None, rule(_crawl_pages)] = Field(None, alias="crawlPages")
    generate_tests: Flag = Field(False, alias="generateTests")
    max_pages: Annotated[int | None, clamped(1, MAX_PAGES)] = Field(None, alias="maxPages")
    max_depth: Annotated[int | None, clamped(0, MAX_DEPTH)] = Field(None, alias="maxDepth")
    respect_robots: Flag = Field(True, alias="respectRobots")
    fill_forms: Flag = Field(False, alias="fillForms")


class GenerationDials(BaseModel):
    """dialsConfig's generation dials (the Sentri document's "test count, perspectives")."""

    model_config = ConfigDict(extra="ignore", strict=True)

    test_count: Annotated[int | None, clamped(1, MAX_TEST_COUNT)] = Field(None, alias="testCount")
    perspectives: Annotated[list[str] | None, rule(_perspectives)] = None


@dataclass
class CrawlSettings:
    """A crawl's settings as stored on it (Crawl.options) and read by the worker that runs it."""

    max_pages: int = DEFAULT_MAX_PAGES
    max_depth: int = DEFAULT_MAX_DEPTH
    crawl_pages: list[str] = field(default_factory=list)
    respect_robots: bool = True
    fill_forms: bool = False
    generate_tests: bool = False
    test_count: int | None = None
    perspectives: list[str] = field(default_factory=lambda: ["page"])
    concurrency: int = 1

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "maxPages": data["max_pages"],
            "maxDepth": data["max_depth"],
            "crawlPages": data["crawl_pages"],
            "respectRobots": data["respect_robots"],
            "fillForms": data["fill_forms"],
            "generateTests": data["generate_tests"],
            "testCount": data["test_count"],
            "perspectives": data["perspectives"],
            "concurrency": data["concurrency"],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CrawlSettings:
        data = data or {}
        defaults = cls()
        return cls(
            max_pages=data.get("maxPages") or defaults.max_pages,
            max_depth=data.get("maxDepth", defaults.max_depth),
            crawl_pages=list(data.get("crawlPages") or []),
            respect_robots=data.get("respectRobots", True),
            fill_forms=bool(data.get("fillForms")),
            generate_tests=bool(data.get("generateTests")),
            test_count=data.get("testCount"),
            perspectives=list(data.get("perspectives") or ["page"]),
            concurrency=data.get("concurrency") or 1,
        )


def settings_from(
    fields: CrawlFields,
    dials: GenerationDials | None,
    *,
    previous: dict[str, Any] | None,
    concurrency: int,
    generate_default: bool = False,
) -> CrawlSettings:
    """Combine what was asked with the defaults: maxPages / maxDepth default to the project's last crawl's
    (the AegisRunner document: "Defaults to last scan's settings"), then 30 and 3."""
    previous = previous or {}
    dials = dials or GenerationDials()
    generate = fields.generate_tests or (generate_default and "generate_tests" not in fields.model_fields_set)
    return CrawlSettings(
        max_pages=fields.max_pages or previous.get("maxPages") or DEFAULT_MAX_PAGES,
        max_depth=fields.max_depth
        if fields.max_depth is not None
        else previous.get("maxDepth", DEFAULT_MAX_DEPTH),
        crawl_pages=fields.crawl_pages or [],
        respect_robots=fields.respect_robots,
        fill_forms=fields.fill_forms,
        generate_tests=generate,
        test_count=dials.test_count,
        perspectives=dials.perspectives or ["page"],
        concurrency=concurrency,
    )


class CrawlDials(GenerationDials):
    """dialsConfig on a crawl of its own: the generation dials and the pages loaded at once."""

    parallel_workers: Annotated[int, clamped(1, 10)] = Field(1, alias="parallelWorkers")


class CrawlRequest(CrawlFields, GenerationDials):
    """POST /api/v1/projects/:id/crawls (and the UI's Crawl button, `flask crawl`): a crawl of its own,
    whose drafts go to the review queue (generateTests defaults to true here)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    base_url: WebUrl | None = Field(None, alias="baseUrl")
    environment_id: Annotated[str | None, rule(_id_string)] = Field(None, alias="environmentId")
    parallel_workers: Annotated[int, clamped(1, 10)] = Field(1, alias="parallelWorkers")
    # The trigger's spelling works here too: {"dialsConfig": {"testCount": 5, "perspectives": [...]}}.
    dials: CrawlDials | None = Field(None, alias="dialsConfig")

    def generation(self) -> GenerationDials:
        """testCount and perspectives, from dialsConfig or the top level (the top level wins)."""
        dials = self.dials or CrawlDials()
        # Already validated: model_construct copies them without running the validators again.
        return GenerationDials.model_construct(
            test_count=self.test_count or dials.test_count,
            perspectives=self.perspectives or dials.perspectives,
        )

    def concurrency(self) -> int:
        if "parallel_workers" in self.model_fields_set or self.dials is None:
            return self.parallel_workers
        return self.dials.parallel_workers
