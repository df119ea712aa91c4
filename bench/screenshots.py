"""Screenshots of every UI page, for review: a seeded Sentri served on a free port, real Chromium.

    python bench/screenshots.py [OUT_DIR]      # default: ./screenshots

Seeds one project with approved and draft tests, a finished run with a failure, Web Vitals and gates,
a token, and a second user; logs in as the admin and saves a full-page PNG of each page.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "correct horse battery"


def seed(app) -> dict:
    from sentri import projects, testcases, tokens, users
    from sentri.extensions import db
    from tests.support.runs import recorded_run

    with app.app_context():
        users.create_user("admin@example.com", PASSWORD, role="admin")
        users.create_user("member@example.com", PASSWORD)
        project = projects.create("Shop", "https://shop.example.com")
        project.quality_gates = {"minPassRate": 90, "maxFailures": 0}
        project.vitals_budgets = {"lcp": 2500, "cls": 0.1}
        db.session.commit()
        steps = [{"action": "goto", "url": "/"}, {"action": "click", "target": {"role": "button", "name": "Buy"}},
                 {"action": "expect_text", "target": {"css": "h1"}, "text": "Thanks"}]
        ids = []
        for n, name in enumerate(["Home loads", "Checkout smoke", "Search", "Cart"]):
            test = testcases.create(project, {"name": name, "tags": ["smoke"] if n == 1 else [], "steps": steps})
            if n < 3:
                testcases.review(test, "approve")
            ids.append(test.id)
        run_ids = []
        for number in range(6):
            outcomes = []
            for position, test_id in enumerate(ids[:3], start=1):
                failed = position == 2 and number % 2 == 0
                outcomes.append({
                    "test_id": test_id, "test_name": f"TST-{test_id}", "attempts": [{}],
                    "status": "failed" if failed else "passed", "duration_ms": 1500 + 100 * position,
                    "failing_step": 2 if failed else None, "error": "locator.click: Timeout 3000ms" if failed else None,
                    "vitals": [{"url": "https://shop.example.com/", "lcp": 1800.0 + 300 * number,
                                "cls": 0.02 * position, "inp": None, "ttfb": 300.0}],
                })
            run_ids.append(recorded_run(project, outcomes).public_id)
        tokens.create(project, label="github-actions")
        crawl = _seed_crawl(project, ids[3])
        return {"project": project.public_id, "run": run_ids[-2], "test": f"TST-{ids[1]}", "crawl": crawl}


def _seed_crawl(project, draft_id) -> str:
    """A finished crawl of the shop: a site map with a broken page, a diff and one draft."""
    from sentri.crawl.models import Crawl
    from sentri.crawl.settings import CrawlSettings
    from sentri.extensions import db
    from sentri.models import utcnow

    def page(path, status=200, title=None, lcp=1200.0, **extra):
        return {"url": f"https://shop.example.com{path}", "path": path, "status": status, "title": title or path,
                "heading": title, "vitals": {"lcp": lcp, "cls": 0.01, "ttfb": 200.0}, "exceptions": [],
                "failedRequests": [], "error": None, **extra}

    pages = [page("/", title="Shop"), page("/cart", title="Cart", lcp=3100.0), page("/products/1", title="Teapot"),
             page("/products/2", title="Cup"), page("/help", 404, "Not found"),
             page("/checkout", title="Checkout", exceptions=["TypeError: total is undefined"])]
    crawl = Crawl(project_id=project.id, status="completed", triggered_by="USR-1", base_url=project.base_url,
                  options=CrawlSettings(generate_tests=True).as_json(), progress={"found": 9, "visited": 6, "queued": 0},
                  pages=pages, skipped=[{"url": "https://shop.example.com/admin", "reason": "robots"}], notes=[],
                  diff={"first": False, "added": ["/checkout"], "removed": ["/old-sale"],
                        "changed": [{"path": "/cart", "what": ["title"]}]},
                  drafts=[draft_id], started_at=utcnow(), finished_at=utcnow())
    db.session.add(crawl)
    db.session.commit()
    return crawl.public_id


def main() -> int:
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from sentri import create_app
    from sentri.runtime import runtime
    from sentri.worker.browsers import find_chromium, launch_options

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "SENTRI_INSTANCE_PATH": str(Path(folder) / "instance"),
                          "RATELIMIT_ENABLED": False, "SENTRI_DEMO": False,
                          "SENTRI_SECRET_KEY": "screenshots-secret-key-not-for-production"})
        with app.app_context():
            upgrade()
        ids = seed(app)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        project = ids["project"]
        pages = {
            "login": "/login", "projects": "/projects", "tests": f"/projects/{project}/tests",
            "review": f"/projects/{project}/review", "test": f"/projects/{project}/tests/{ids['test']}",
            "runs": f"/projects/{project}/runs", "run": f"/runs/{ids['run']}",
            "automation": f"/projects/{project}/automation", "settings": f"/projects/{project}/settings",
            "users": "/users", "account": "/account", "crawls": f"/projects/{project}/crawls",
            "crawl": f"/projects/{project}/crawls/{ids['crawl']}",
        }
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(**launch_options(find_chromium()))
                page = browser.new_page(base_url=base, viewport={"width": 1280, "height": 800})
                page.goto("/login")
                page.screenshot(path=str(out / "login.png"), full_page=True)
                page.get_by_label("Email").fill("admin@example.com")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url("**/projects")
                for name, path in pages.items():
                    if name == "login":
                        continue
                    page.goto(path)
                    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                    print(out / f"{name}.png")
                browser.close()
        finally:
            server.close()
            runtime(app).engine.shutdown(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
