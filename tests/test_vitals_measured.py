"""Web Vitals are measured right, not just present: fixture pages with known timings, real Chromium."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sentri import projects, testcases, tokens
from sentri.queue import lifecycle
from sentri.worker import vitals_probe

pytestmark = pytest.mark.browser

PAGES = {
    "/plain": "<h1>Plain</h1><p>Nothing moves here.</p>",
    "/late-block": """<h1>x</h1><div id="big" hidden style="width:700px;height:500px;background:#36c;color:#fff">
        A large block of text that becomes the largest contentful paint.</div>
        <script src="/late.js"></script>""",
    "/shift": """<div id="content"><h1>Content</h1><p style="height:400px">Body text.</p></div>
        <script src="/shift.js"></script>""",
    "/link": '<h1>Link</h1><a id="next" href="/plain">Next</a>',
    # A page (and a frame in it) calling the probe's binding itself: junk, other addresses, a flood.
    "/forge": """<h1>Forge</h1><iframe srcdoc="<script>__sentriVitalsPush({url: top.location.href, origin: 1,
        lcp: 99999, cls: 0, inp: null, ttfb: 1})</script>"></iframe><script src="/forge.js"></script>""",
    "/busy": """<h1>Busy</h1><button id="go">Busy 300 ms</button><div id="out"></div>
        <script src="/busy.js"></script>""",
}
SCRIPTS = {
    "/forge.js": """const push = globalThis.__sentriVitalsPush;
        push("junk"); push({url: "http://elsewhere.example/", origin: 1, lcp: 1});
        push({url: location.href, origin: 2, lcp: Infinity}); push({url: location.href, origin: 3, lcp: "x"});
        for (let i = 0; i < 250; i++) push({url: location.origin + "/forged/" + i, origin: 4, lcp: 1});""",
    "/late.js": "setTimeout(() => { document.getElementById('big').hidden = false; }, 1200);",
    # Insert a banner above the content after load, and report what the layout-shift entries say.
    "/shift.js": """
        let sum = 0;
        new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) sum += e.value; })
          .observe({type: 'layout-shift', buffered: true});
        addEventListener('load', () => setTimeout(() => {
          const banner = document.createElement('div');
          banner.style.height = '150px'; banner.textContent = 'Banner';
          document.body.insertBefore(banner, document.body.firstChild);
          setTimeout(() => fetch('/report?cls=' + sum), 500);
        }, 300));
    """,
    "/busy.js": """document.getElementById('go').addEventListener('click', () => {
        const start = performance.now(); while (performance.now() - start < 300) {}
        document.getElementById('out').textContent = 'done'; });""",
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == "/report":
            self.server.reports.append(parse_qs(parts.query))
            body, kind = b"ok", "text/plain"
        elif parts.path in SCRIPTS:
            body, kind = SCRIPTS[parts.path].encode(), "text/javascript"
        else:
            if parts.path == "/slow":
                time.sleep(0.3)
            html = PAGES.get(parts.path, PAGES["/plain"])
            body, kind = (
                f"<!doctype html><html><head><title>t</title></head><body>{html}</body></html>".encode(),
                "text/html",
            )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def vitals_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.reports = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _run(app, base_url, tests):
    """Run the given tests (name -> steps) as one approved project; return {name: result vitals rows}."""
    with app.app_context():
        project = projects.create("Vitals", base_url)
        for name, steps in tests.items():
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        _, token = tokens.create(project)
        project_id = project.public_id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    status_url = client.post(f"/api/v1/projects/{project_id}/trigger", headers=headers).get_json()[
        "statusUrl"
    ]
    deadline = time.monotonic() + 90
    while client.get(status_url, headers=headers).get_json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with app.app_context():
        run = lifecycle.get(status_url.rsplit("/", 1)[1])
        assert run.status == "completed", run.error
        return {r.test_name: r.vitals for r in run.results}, {r.test_name: r.status for r in run.results}


def test_each_metric_matches_what_the_page_did(app, vitals_site):
    base = f"http://127.0.0.1:{vitals_site.server_address[1]}"
    vitals, statuses = _run(
        app,
        base,
        {
            "slow server": [{"goto": "/slow"}, {"expect_text": {"css": "h1"}, "text": "Plain"}],
            "late block": [{"goto": "/late-block"}, {"expect_visible": {"css": "#big"}}, {"wait": 200}],
            "shift": [
                {"goto": "/shift"},
                {"expect_text": {"text": "Banner"}, "text": "Banner"},
                {"wait": 700},
            ],
            "no shift": [{"goto": "/plain"}, {"wait": 300}],
            "click": [
                {"goto": "/busy"},
                {"click": {"css": "#go"}},
                {"expect_text": {"css": "#out"}, "text": "done"},
            ],
            "no click": [{"goto": "/busy"}, {"expect_visible": {"css": "#go"}}],
        },
    )
    assert set(statuses.values()) == {"passed"}, statuses
    slow = vitals["slow server"][0]
    assert 300 <= slow["ttfb"] < 1000 and slow["url"].endswith("/slow")
    assert vitals["late block"][0]["lcp"] >= 1200
    page_says = float(vitals_site.reports[0]["cls"][0])
    assert page_says > 0.05
    assert abs(vitals["shift"][0]["cls"] - page_says) <= 0.01
    assert vitals["no shift"][0]["cls"] == pytest.approx(0, abs=0.001)
    assert vitals["click"][0]["inp"] >= 300
    assert vitals["no click"][0]["inp"] is None


def test_every_page_of_a_test_is_recorded_including_a_failed_test(app, vitals_site):
    base = f"http://127.0.0.1:{vitals_site.server_address[1]}"
    vitals, statuses = _run(
        app,
        base,
        {
            "two pages then fail": [
                {"goto": "/slow"},
                {"goto": "/busy"},
                {"click": {"css": "#go"}},
                {"expect_text": {"css": "h1"}, "text": "Never there", "timeout": 500},
            ],
        },
    )
    assert statuses == {"two pages then fail": "failed"}
    rows = vitals["two pages then fail"]
    assert [r["url"].rsplit("/", 1)[1] for r in rows] == ["slow", "busy"]
    assert rows[0]["ttfb"] >= 300 and rows[1]["inp"] >= 300
    print(json.dumps(rows))


def test_a_page_left_by_a_click_is_recorded_as_it_was_when_left(app, vitals_site):
    """Pages hand their values over when they are left (no read before every step that may navigate)."""
    base = f"http://127.0.0.1:{vitals_site.server_address[1]}"
    vitals, statuses = _run(
        app,
        base,
        {
            "link": [
                {"goto": "/link"},
                {"click": {"css": "#next"}},
                {"expect_text": {"css": "h1"}, "text": "Plain"},
            ],
        },
    )
    assert statuses == {"link": "passed"}
    rows = vitals["link"]
    assert [r["url"].rsplit("/", 1)[1] for r in rows] == ["link", "plain"]
    assert all(r["ttfb"] is not None and r["lcp"] is not None for r in rows)


def test_what_a_page_pushes_itself_is_bounded_and_only_for_its_own_origin(app, vitals_site):
    """The binding is the page's to call: a frame in it, another address, junk and a flood are kept out
    (at most MAX_PAGES rows, same-origin pages only, numbers only)."""
    base = f"http://127.0.0.1:{vitals_site.server_address[1]}"
    vitals, statuses = _run(
        app, base, {"forge": [{"goto": "/forge"}, {"expect_text": {"css": "h1"}, "text": "Forge"}]}
    )
    assert statuses == {"forge": "passed"}
    rows = vitals["forge"]
    assert len(rows) == vitals_probe.MAX_PAGES  # the flood, cut off
    assert all(r["url"].startswith(base + "/") for r in rows)  # nothing for elsewhere.example
    assert all(
        r["lcp"] != 99999 and isinstance(r["lcp"], float) for r in rows
    )  # not the frame's, no Infinity
