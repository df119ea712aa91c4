"""A project with something on every page, written straight to the database: the screenshots bench and the
page-by-page browser tests look at the same one.

Two users; a project with gates, budgets, a regression gate and an auto-quarantine policy; approved, draft
and quarantined tests (one with a {{NAME}} target); an environment with a secret, a test-data set and a
suite; two schedules and two alert channels; runs on two branches by a token and a user, one of them aborted; a last run with a Playwright failure, its screenshot and
trace, a changed screenshot, a flaky and a quarantined test and Web Vitals samples; a screenshot and a heal
waiting for review; a finished crawl with its run."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from sentri import environments, projects, suites, testcases, tokens, users, vault
from sentri.crawl.models import Crawl
from sentri.crawl.settings import CrawlSettings
from sentri.database import write
from sentri.extensions import db
from sentri.models import TestCase, utcnow
from sentri.notify import channels
from sentri.notify.models import NotificationChannel
from sentri.review import recording
from sentri.review.models import Baseline
from sentri.runs.options import RunOptions
from sentri.schedules import manage
from sentri.stores import artifact_store
from sentri.visual import store
from sentri.visual.compare import compare
from tests.support.runs import recorded_run

PASSWORD = "correct horse battery"
BASE = "https://shop.example.com"
# What Playwright says when expect_text fails, as the worker stores it (steps.StepFailed).
PLAYWRIGHT_ERROR = (
    "step 3 (expect_text): Locator expected to contain text 'Thanks'\nActual value: Your cart \n"
    'Call log:\n  - Expect "to_contain_text" locator("h1") with timeout 3000ms\n'
    '  - waiting for locator("h1")\n    6 × locator resolved to <h1>Your cart</h1>\n'
    '      - unexpected value "Your cart"'
)
STEPS = [
    {"action": "goto", "url": "/"},
    {"action": "click", "target": {"role": "button", "name": "Buy"}},
    {"action": "expect_text", "target": {"css": "h1"}, "text": "Thanks"},
]
SEARCH = [
    {"action": "goto", "url": "/"},
    {"action": "fill", "target": {"label": "Search"}, "value": "{{TERM}}"},
    {"action": "click", "target": {"role": "link", "name": "{{TERM}}"}},
]
PRODUCT = [{"action": "goto", "url": "/products/1"}, {"action": "expect_screenshot", "name": "product"}]
RETRIED = [
    {
        "status": "failed",
        "failingStep": 2,
        "error": "step 2 (click): Locator.click: Timeout 3000ms exceeded.",
    },
    {"status": "passed"},
]


def _png(width: int, height: int, colour: str, mark: str | None = None) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 56), fill="#15202b")
    draw.rectangle((40, 100, width - 40, 180), fill=colour)
    draw.text((48, 120), mark or "Shop", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _vitals(path: str, lcp: float, cls: float = 0.02, ttfb: float = 300.0, spread: float = 0.0) -> dict:
    samples = {"lcp": [lcp - spread, lcp, lcp + spread, lcp - spread / 2, lcp + spread / 2]}
    return {"url": BASE + path, "lcp": lcp, "cls": cls, "inp": None, "ttfb": ttfb, "samples": samples}


def seed(app) -> dict[str, str]:
    """Write the showcase; return the public ids the pages are reached by."""
    with app.app_context():
        users.create_user("admin@example.com", PASSWORD, role="admin")
        users.create_user("member@example.com", PASSWORD)
        project = projects.create("Shop", BASE)
        with write():
            project.quality_gates = {"minPassRate": 90, "maxFailures": 0}
            project.vitals_budgets = {"lcp": 2500, "cls": 0.1}
            project.vitals_regression = {
                "lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100},
                "minBaselineRuns": 3,
                "vitalsSamples": 5,
            }
            project.variables = {"TERM": "teapot"}
        made = {}
        for name, steps, tags in (
            ("Home loads", STEPS[:1], ["smoke"]),
            ("Checkout", STEPS, ["smoke", "cart"]),
            ("Search", SEARCH, []),
            ("Wishlist", STEPS, []),
            ("Account menu", STEPS, []),
            ("Product page", PRODUCT, ["visual"]),
        ):
            made[name] = testcases.create(project, {"name": name, "tags": tags, "steps": steps})
            testcases.review(made[name], "approve")
        draft = testcases.create(project, {"name": "Newsletter sign-up", "steps": STEPS})
        environment = environments.create_environment(
            project,
            environments.NewEnvironment.model_validate(
                {
                    "name": "staging",
                    "baseUrl": "https://staging.shop.example.com",
                    "variables": {"USER": "demo"},
                    "secrets": {"PASSWORD": "hunter2"},
                }
            ),
        )
        environments.create_data_set(
            project,
            environments.NewDataSet.model_validate({"name": "Teapots", "variables": {"TERM": "teapot"}}),
        )
        smoke = suites.create(project, "Smoke", [made["Home loads"].public_id, made["Checkout"].public_id])
        token, _ = tokens.create(project, label="github-actions")
        ids = {name: test.id for name, test in made.items()}
        for number in range(5):  # the history: main and a feature branch, by the token and by a person
            branch = "main" if number % 2 == 0 else "feature/cart"
            run = recorded_run(
                project,
                [
                    {
                        "test_id": ids["Home loads"],
                        "test_name": "Home loads",
                        "status": "passed",
                        "duration_ms": 1200,
                        "attempts": [{}],
                        "vitals": [_vitals("/", 1500 + 20 * number, spread=30)],
                    },
                    {
                        "test_id": ids["Checkout"],
                        "test_name": "Checkout",
                        "status": "passed",
                        "duration_ms": 2400,
                        "attempts": [{}],
                        "vitals": [_vitals("/cart", 1900 + 10 * number, spread=20)],
                    },
                    {
                        "test_id": ids["Wishlist"],
                        "test_name": "Wishlist",
                        "status": "passed" if number % 2 else "failed",
                        "error": None
                        if number % 2
                        else "step 2 (click): Locator.click: Timeout 3000ms exceeded.",
                        "failing_step": None if number % 2 else 2,
                        "attempts": RETRIED,
                        "flaky": bool(number % 2),
                    },
                ],
                options=RunOptions(branch=branch, commit_sha=f"{number + 1:x}" * 40),
            )
            with write():
                run.triggered_by = token.public_id if number % 2 == 0 else "USR-1"
                run.trigger_source = "token" if number % 2 == 0 else "user"
        # Stopped half-way: the trend charts mark it apart, counted in no figure.
        stopped = recorded_run(
            project,
            [
                {
                    "test_id": ids["Home loads"],
                    "test_name": "Home loads",
                    "status": "passed",
                    "duration_ms": 1300,
                    "attempts": [{}],
                    "vitals": [_vitals("/", 1700, spread=30)],
                },
                {
                    "test_id": ids["Checkout"],
                    "test_name": "Checkout",
                    "status": "failed",
                    "duration_ms": 2400,
                    "error": "step 2 (click): Locator.click: Timeout 3000ms exceeded.",
                    "failing_step": 2,
                    "attempts": [{}],
                },
                {
                    "test_id": ids["Wishlist"],
                    "test_name": "Wishlist",
                    "status": "skipped",
                    "skip_reason": "aborted",
                },
            ],
            status="aborted",
            options=RunOptions(branch="main", commit_sha="a" * 40),
        )
        with write():
            stopped.triggered_by, stopped.trigger_source = "USR-1", "user"
        last = _last_run(app, project, ids, environment.public_id)
        crawl = _crawl(project, draft.id)
        _schedules(project, smoke.public_id, environment.public_id)  # after the runs: no alert goes out
        return {
            "project": project.public_id,
            "run": last,
            "test": made["Checkout"].public_id,
            "search": made["Search"].public_id,
            "draft": draft.public_id,
            "crawl": crawl,
            "environment": environment.public_id,
        }


def _last_run(app, project, ids: dict[str, int], environment: str) -> str:
    """The run worth triaging: a failure with its pictures and trace, a changed screenshot, a flaky, a
    quarantined and a passing test, an LCP regression, an auto-quarantine and a heal at its end."""
    artifacts = artifact_store(app)
    artifacts.put_bytes("showcase/failure.png", _png(1280, 720, "#fce8e6", "Your cart"), "image/png")
    artifacts.put_bytes("showcase/trace.zip", b"PK\x05\x06" + b"\0" * 18, "application/zip")
    expected, actual = _png(1280, 720, "#e6f4ea", "Teapot"), _png(1280, 720, "#fef7e0", "Teapot (sale)")
    diff = _png(1280, 720, "#ff0000", "changed")
    sha = {
        name: store.put(artifacts, data)
        for name, data in (("expected", expected), ("actual", actual), ("diff", diff))
    }
    approved = Baseline(
        project_id=project.id,
        test_id=ids["Product page"],
        name="product",
        browser="chromium",
        device="desktop",
        viewport="1280x720",
        step=2,
        status="approved",
        sha256=sha["expected"],
    )
    with write():
        db.session.add(approved)
    snapshot = {
        "step": 2,
        "name": "product",
        "viewport": "1280x720",
        "status": "changed",
        "ratio": 0.031,
        "sha256": sha["actual"],
        "expectedSha256": sha["expected"],
        "diffSha256": sha["diff"],
        "baselineId": approved.id,
        "box": list(compare(expected, actual).box),
    }
    with write():
        menu = db.session.get(TestCase, ids["Account menu"])
        menu.quarantined_at, menu.quarantined_by = utcnow(), "USR-1"
        menu.quarantine_reason = "times out on CI since the font change"
        project.quarantine_policy = {
            "autoFlakyScore": 0.3
        }  # Wishlist's flakiness reaches it at this run's end
    run = recorded_run(
        project,
        [
            {
                "test_id": ids["Checkout"],
                "test_name": "Checkout",
                "status": "failed",
                "failing_step": 3,
                "error": PLAYWRIGHT_ERROR,
                "screenshot": "showcase/failure.png",
                "trace": "showcase/trace.zip",
                "duration_ms": 4100,
                "attempts": [{}, {}],
                "vitals": [_vitals("/cart", 3100, spread=40)],
            },
            {
                "test_id": ids["Product page"],
                "test_name": "Product page",
                "status": "failed",
                "failing_step": 2,
                "error": 'step 2 (expect_screenshot): the screenshot "product" differs from its baseline (3.10% of pixels)',
                "duration_ms": 2900,
                "attempts": [{}],
                "snapshots": [snapshot],
            },
            {
                "test_id": ids["Wishlist"],
                "test_name": "Wishlist",
                "status": "passed",
                "flaky": True,
                "duration_ms": 3300,
                "attempts": RETRIED,
                "vitals": [
                    _vitals(
                        "/wishlist?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale-2026",
                        2100,
                        cls=0.14,
                    )
                ],
            },
            {
                "test_id": ids["Account menu"],
                "test_name": "Account menu",
                "status": "failed",
                "quarantined": True,
                "failing_step": 2,
                "error": "step 2 (click): Locator.click: Timeout 3000ms exceeded.\nCall log:\n"
                '  - waiting for get_by_role("button", name="Buy")',
                "duration_ms": 3000,
                "attempts": [{}],
            },
            {
                "test_id": ids["Search"],
                "test_name": "Search",
                "status": "passed",
                "duration_ms": 1900,
                "attempts": [{}],
                "healed": [
                    {
                        "step": 3,
                        "from": SEARCH[2]["target"],
                        "to": {"role": "link", "name": "Porcelain teapot"},
                    }
                ],
            },
            {
                "test_id": ids["Home loads"],
                "test_name": "Home loads",
                "status": "passed",
                "duration_ms": 1100,
                "attempts": [{}],
                "vitals": [_vitals("/", 1520, spread=30)],
            },
        ],
        options=RunOptions(branch="main", commit_sha="9f2c4e1" + "0" * 33, environment_id=environment),
    )
    with write():
        run.triggered_by, run.trigger_source = "USR-1", "user"
        recording.record(
            run.id,
            ids["Search"],
            "passed",
            None,
            [{"step": 3, "to": {"role": "link", "name": "Porcelain teapot"}}],
            None,
        )
        recording.record(run.id, ids["Product page"], "failed", [dict(snapshot)], None, None)
    return run.public_id


def _schedules(project, suite: str, environment: str) -> None:
    """Two schedules (one paused) and two channels (a webhook, and one whose last delivery failed)."""
    for body in (
        {
            "name": "Nightly smoke",
            "cron": "0 2 * * *",
            "timezone": "Europe/Berlin",
            "options": {"suiteIds": [suite], "environmentId": environment},
        },
        {
            "name": "Phones, weekdays",
            "cron": "30 7 * * 1-5",
            "enabled": False,
            "options": {"device": "mobile"},
        },
    ):
        manage.create(project, manage.NewSchedule.model_validate(body), created_by="USR-1")
    for name, target, error in (
        ("Team channel", "https://hooks.slack.com/services/T0/B0/showcase", None),
        ("Release webhook", "https://ci.shop.example.com/hooks/sentri", "HTTP 502 from ci.shop.example.com"),
    ):
        with write():
            db.session.add(
                NotificationChannel(
                    project_id=project.id,
                    name=name,
                    kind="slack" if "slack" in target else "webhook",
                    target=vault.encrypt(target),
                    target_hint=channels.mask("webhook", target),
                    events=["failed", "recovered"],
                    enabled=True,
                    last_error=error,
                    last_error_at=utcnow() if error else None,
                )
            )


def _crawl(project, draft_id: int) -> str:
    """A finished crawl of the shop: a site map with a broken page, a diff and one draft."""

    def page(path, status=200, title=None, lcp=1200.0, **extra):
        return {
            "url": f"{BASE}{path}",
            "path": path,
            "status": status,
            "title": title or path,
            "heading": title,
            "vitals": {"lcp": lcp, "cls": 0.01, "ttfb": 200.0},
            "exceptions": [],
            "failedRequests": [],
            "error": None,
            **extra,
        }

    pages = [
        page("/", title="Shop"),
        page("/cart", title="Cart", lcp=3100.0),
        page("/products/1", title="Teapot"),
        page("/products/2", title="Cup"),
        page("/help", 404, "Not found"),
        page("/checkout", title="Checkout", exceptions=["TypeError: total is undefined"]),
    ]
    crawl = Crawl(
        project_id=project.id,
        status="completed",
        triggered_by="USR-1",
        base_url=project.base_url,
        options=CrawlSettings(generate_tests=True).as_json(),
        progress={"found": 9, "visited": 6, "queued": 0},
        pages=pages,
        skipped=[{"url": f"{BASE}/admin", "reason": "robots"}],
        notes=[],
        page_count=6,
        broken_count=1,
        diff={
            "first": False,
            "added": ["/checkout"],
            "removed": ["/old-sale"],
            "changed": [{"path": "/cart", "what": ["title"]}],
        },
        drafts=[draft_id],
        started_at=utcnow(),
        finished_at=utcnow(),
    )
    with write():
        db.session.add(crawl)
    return crawl.public_id


# Pages seen again in another state, after a click: name -> (the page's name in pages(), the button).
STATES = {"review-changed-area": ("review", "Changed area")}


def pages(ids: dict[str, str]) -> dict[str, str]:
    """Every page of the UI, by a short name, with the showcase's ids (login first: it is seen logged out)."""
    project = f"/projects/{ids['project']}"
    return {
        "login": "/login",
        "projects": "/projects",
        "tests": f"{project}/tests",
        "review": f"{project}/review",
        "test": f"{project}/tests/{ids['test']}",
        "runs": f"{project}/runs",
        "run": f"/runs/{ids['run']}",
        "crawls": f"{project}/crawls",
        "crawl": f"{project}/crawls/{ids['crawl']}",
        "ci": f"{project}/automation",
        "gates": f"{project}/gates",
        "settings": f"{project}/settings",
        "new-test": f"{project}/tests/new",
        "schedules": f"{project}/schedules",
        "users": "/users",
        "account": "/account",
        "not-found": "/runs/RUN-999",
    }
