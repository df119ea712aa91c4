"""Drafts from a crawl: made deterministically from crawled page dicts, once per page pattern, never for a
broken page, never twice, never filling a destructive form; and, in real Chromium against a small site,
every draft passes and the page draft fails once the page's heading changes."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import async_playwright

from sentri.crawl.drafts import PERSPECTIVES, make_drafts, parse_perspectives
from sentri.errors import ValidationFailed
from sentri.testformat import validate_steps, validate_test
from sentri.worker import browsers
from sentri.worker.steps import StepFailed, run_steps

ALL = list(PERSPECTIVES)
BASE = "http://127.0.0.1:8000"


def page(
    path,
    *,
    pattern=None,
    parent=None,
    depth=None,
    heading=None,
    forms=(),
    links=(),
    link_texts=None,
    status=200,
    error=None,
    title=None,
    landmarks=("banner", "navigation", "main", "contentinfo"),
):
    """A page dict shaped like the crawler's."""
    made = {
        "url": BASE + path,
        "path": path,
        "status": status,
        "title": title if title is not None else f"Shop {path}",
        "heading": heading if heading is not None else f"Heading of {path}",
        "landmarks": list(landmarks),
        "forms": list(forms),
        "links": [BASE + link for link in links],
        "depth": 0 if parent is None else 1,
        "pattern": pattern or path,
        "signature": "sig",
        "parent": BASE + parent if parent else None,
        "error": error,
        "exceptions": [],
        "failedRequests": [],
    }
    if depth is not None:
        made["depth"] = depth
    if link_texts is not None:
        made["linkTexts"] = {BASE + link: text for link, text in link_texts.items()}
    return made


def form(name="Contact", submit="Send", action="/thanks", fields=None):
    return {
        "name": name,
        "action": BASE + action,
        "method": "post",
        "submit": submit,
        "fields": fields
        or [
            {"label": "Your name", "type": "text", "name": "name", "required": True},
            {"label": "Email", "type": "email", "name": "email", "required": True},
            {"label": "Message", "type": "textarea", "name": "message", "required": False},
        ],
    }


def site():
    return [
        page(
            "/",
            heading="Welcome",
            links=["/about", "/contact", "/items/1", "/items/2"],
            link_texts={
                "/about": "About us",
                "/contact": "Contact",
                "/items/1": "Item one",
                "/items/2": "Item two",
            },
        ),
        page("/about", parent="/", links=["/team"], link_texts={"/team": "Our team"}),
        page("/team", parent="/about", depth=2),
        page("/contact", parent="/", forms=[form()]),
        page("/items/1", pattern="/items/{n}", parent="/"),
        page("/items/2", pattern="/items/{n}", parent="/"),
    ]


def test_the_same_pages_make_the_same_drafts_in_the_same_order_whatever_order_they_come_in():
    first = make_drafts(site(), perspectives=ALL, fill_forms=True)
    again = make_drafts(list(reversed(site())), perspectives=ALL, fill_forms=True)
    assert first == again
    assert [(d["sourcePage"], d["perspective"]) for d in first] == [
        (BASE + "/", "page"),
        (BASE + "/about", "page"),
        (BASE + "/about", "full_journey"),
        (BASE + "/contact", "page"),
        (BASE + "/contact", "single_component"),
        (BASE + "/contact", "full_journey"),
        (BASE + "/contact", "form_journey"),
        (BASE + "/items/1", "page"),
        (BASE + "/items/1", "full_journey"),
        (BASE + "/team", "page"),
        (BASE + "/team", "full_journey"),
    ]


def test_every_draft_is_a_valid_test_with_relative_urls():
    for draft in make_drafts(site(), perspectives=ALL, fill_forms=True):
        assert validate_steps(draft["steps"]) == draft["steps"]
        assert validate_test({k: draft[k] for k in ("name", "tags", "steps")})["name"] == draft["name"]
        assert draft["tags"] == ["generated", "crawl", draft["perspective"]]
        assert all(not s.get("url", "/").startswith("http") for s in draft["steps"])


def test_the_page_draft_checks_title_heading_landmarks_and_form_fields():
    [draft] = make_drafts([page("/contact", forms=[form()])], perspectives=["page"])
    assert draft["name"] == "Page /contact: title, heading and landmarks"
    assert draft["steps"] == [
        {"action": "goto", "url": "/contact"},
        {"action": "expect_title", "title": "Shop /contact"},
        {
            "action": "expect_visible",
            "target": {"role": "heading", "name": "Heading of /contact", "exact": True},
        },
        {"action": "expect_visible", "target": {"role": "banner"}},
        {"action": "expect_visible", "target": {"role": "navigation", "nth": 0}},
        {"action": "expect_visible", "target": {"role": "main"}},
        {"action": "expect_visible", "target": {"role": "contentinfo"}},
        {"action": "expect_visible", "target": {"label": "Your name"}},
        {"action": "expect_visible", "target": {"label": "Email"}},
        {"action": "expect_visible", "target": {"label": "Message"}},
        {"action": "expect_visible", "target": {"role": "button", "name": "Send", "exact": True}},
    ]


def test_texts_are_trimmed_collapsed_and_capped_so_they_stay_substrings_of_the_page():
    long = "Word " * 100
    [draft] = make_drafts(
        [page("/", title="  The\n\tshop  ", heading=long, landmarks=())], perspectives=["page"]
    )
    title, heading = draft["steps"][1], draft["steps"][2]
    assert title == {"action": "expect_title", "title": "The shop"}
    name = heading["target"]["name"]
    assert len(name) <= 200 and " ".join(long.split()).startswith(name)
    assert "exact" not in heading["target"]  # a capped name can only match as a substring


def test_a_label_inside_another_is_matched_exactly():
    fields = [
        {"label": "Name", "type": "text", "name": "a", "required": False},
        {"label": "Last name", "type": "text", "name": "b", "required": False},
    ]
    [draft] = make_drafts([page("/f", forms=[form(fields=fields)])], perspectives=["single_component"])
    assert draft["steps"][1:3] == [
        {"action": "expect_visible", "target": {"label": "Name", "exact": True}},
        {"action": "expect_visible", "target": {"label": "Last name"}},
    ]


def test_one_draft_per_page_pattern():
    pages = [page("/items/2", pattern="/items/{n}"), page("/items/1", pattern="/items/{n}")]
    [draft] = make_drafts(pages, perspectives=["page"])
    assert draft["sourcePage"] == BASE + "/items/1"
    assert draft["steps"][0] == {"action": "goto", "url": "/items/1"}


def test_broken_pages_make_no_draft():
    pages = [
        page("/gone", status=404),
        page("/boom", status=500),
        page("/dead", status=None, error="net::ERR_FAILED"),
    ]
    assert make_drafts(pages, perspectives=ALL, fill_forms=True) == []


def test_a_second_crawl_of_an_unchanged_site_makes_no_new_draft():
    first = make_drafts(site(), perspectives=ALL, fill_forms=True)
    assert first
    assert make_drafts(site(), perspectives=ALL, fill_forms=True, existing=[d["steps"] for d in first]) == []
    # One existing test is enough to leave out just its draft.
    rest = make_drafts(site(), perspectives=ALL, fill_forms=True, existing=[first[0]["steps"]])
    assert rest == first[1:]


def test_a_form_on_every_page_makes_one_form_draft():
    search = form(
        name="Search",
        submit="Search",
        action="/search",
        fields=[{"label": "Search the shop", "type": "search", "name": "q", "required": False}],
    )
    pages = [page("/a", forms=[search]), page("/b", forms=[search])]
    drafts = make_drafts(pages, perspectives=["single_component", "form_journey"], fill_forms=True)
    assert [(d["sourcePage"], d["perspective"]) for d in drafts] == [
        (BASE + "/a", "single_component"),
        (BASE + "/a", "form_journey"),
    ]


def test_limit_caps_the_drafts_returned():
    everything = make_drafts(site(), perspectives=ALL, fill_forms=True)
    assert make_drafts(site(), perspectives=ALL, fill_forms=True, limit=3) == everything[:3]
    assert make_drafts(site(), perspectives=ALL, limit=0) == []


def test_perspectives_default_to_page_and_an_unknown_one_is_named():
    assert parse_perspectives(None) == ["page"]
    assert parse_perspectives(["full_journey", "page"]) == ["full_journey", "page"]
    with pytest.raises(ValidationFailed) as caught:
        parse_perspectives(["page", "magic"])
    assert caught.value.message == (
        'dialsConfig.perspectives: unknown perspective "magic" '
        "(known: page, single_component, full_journey, form_journey)"
    )
    assert "dialsConfig.perspectives" in caught.value.fields
    with pytest.raises(ValidationFailed):
        make_drafts(site(), perspectives=["magic"])


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Delete account"},
        {"submit": "Remove item"},
        {"action": "/account/destroy"},
        {"submit": "Cancel order"},
        {"name": "newsletter", "submit": "Unsubscribe"},
        {"submit": "Log out"},
        {"action": "/logout"},
        {"submit": "Sign out"},
        {"name": "Deactivate"},
        {"submit": "Close account"},
        {"action": "/cache/purge"},
        {"name": "drop-table"},
        {"submit": "Reset"},
        {"action": "/erase"},
    ],
)
def test_a_destructive_form_is_never_filled_and_sent(change):
    pages = [page("/f", forms=[{**form(), **change, "action": BASE + change.get("action", "/thanks")}])]
    drafts = make_drafts(pages, perspectives=ALL, fill_forms=True)
    assert "form_journey" not in {d["perspective"] for d in drafts}
    assert "single_component" in {d["perspective"] for d in drafts}


def test_forms_are_filled_only_when_asked_and_only_with_harmless_fields():
    password = form(
        name="Sign in",
        submit="Sign in",
        fields=[
            {"label": "Email", "type": "email", "name": "e", "required": True},
            {"label": "Password", "type": "password", "name": "p", "required": True},
        ],
    )
    upload = form(
        name="Upload",
        submit="Upload",
        fields=[{"label": "File", "type": "file", "name": "f", "required": True}],
    )
    pick = form(
        name="Pick", submit="Go", fields=[{"label": "Size", "type": "select", "name": "s", "required": True}]
    )
    pages = [page("/f", forms=[form(), password, upload, pick])]
    assert not [d for d in make_drafts(pages, perspectives=ALL) if d["perspective"] == "form_journey"]
    [fill] = [
        d for d in make_drafts(pages, perspectives=ALL, fill_forms=True) if d["perspective"] == "form_journey"
    ]
    assert fill["name"] == "Fill and send form Contact on /f"
    assert fill["steps"] == [
        {"action": "goto", "url": "/f"},
        {"action": "fill", "target": {"label": "Your name"}, "value": "Sentri test"},
        {"action": "fill", "target": {"label": "Email", "nth": 0}, "value": "sentri@example.com"},
        {"action": "fill", "target": {"label": "Message"}, "value": "Sentri test"},
        {"action": "click", "target": {"role": "button", "name": "Send", "exact": True}},
        {"action": "expect_url", "url": "/thanks"},
    ]


def test_a_form_sent_to_another_site_is_not_followed_there():
    elsewhere = {**form(), "action": "https://forms.example.net/submit"}
    [fill] = make_drafts([page("/f", forms=[elsewhere])], perspectives=["form_journey"], fill_forms=True)
    assert fill["steps"][-1]["action"] == "click"


def test_a_journey_clicks_each_hop_from_the_home_page():
    [journey] = [
        d for d in make_drafts(site(), perspectives=["full_journey"]) if d["sourcePage"] == BASE + "/team"
    ]
    assert journey["name"] == "Journey to /team from the home page"
    assert journey["steps"] == [
        {"action": "goto", "url": "/"},
        {"action": "click", "target": {"role": "link", "name": "About us", "exact": True, "nth": 0}},
        {"action": "expect_url", "url": "/about"},
        {"action": "click", "target": {"role": "link", "name": "Our team", "exact": True, "nth": 0}},
        {"action": "expect_url", "url": "/team"},
        {
            "action": "expect_visible",
            "target": {"role": "heading", "name": "Heading of /team", "exact": True},
        },
    ]


def test_a_journey_needs_every_hops_link_text():
    pages = site()
    del pages[1]["linkTexts"]  # /about does not say how its link to /team reads
    journeys = {d["sourcePage"] for d in make_drafts(pages, perspectives=["full_journey"])}
    assert BASE + "/team" not in journeys and BASE + "/about" in journeys


def test_a_base_url_with_a_path_makes_paths_relative_to_it():
    pages = [page("/demo/"), page("/demo/about", parent="/demo/"), page("/elsewhere")]
    pages[0]["linkTexts"] = {BASE + "/demo/about": "About"}
    drafts = make_drafts(pages, perspectives=["page", "full_journey"], base_url=BASE + "/demo/")
    assert [d["steps"][0]["url"] for d in drafts] == ["/", "/about", "/"]
    assert drafts[2]["steps"][2] == {"action": "expect_url", "url": "/about"}


# -- in a real browser ---------------------------------------------------------------------------------

HOME = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sentri Tea Shop</title></head><body>
<header><a href="/">Tea Shop</a></header>
<nav><a href="/about">About us</a> <a href="/contact">Contact</a></nav>
<main><h1>{heading}</h1><p>Fine teas.</p></main>
<footer><nav><a href="/about">About us</a></nav><p>Made for tests</p></footer>
</body></html>"""
ABOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>About the shop</title></head><body>
<header><a href="/">Tea Shop</a></header><main><h1>About us</h1><h2>About us and our teas</h2></main>
</body></html>"""
CONTACT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Contact the shop</title></head><body>
<main><h1>Write to us</h1>
<form action="/thanks" method="post" aria-label="Contact">
<label for="n">Your name</label> <input id="n" name="name" required>
<label>Email <input type="email" name="email" required></label>
<label for="m">Message</label> <textarea id="m" name="message"></textarea>
<button type="submit">Send</button></form>
<form action="/account/delete" method="post"><button>Delete my account</button></form>
</main></body></html>"""
THANKS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Thanks</title></head>
<body><main><h1>Thank you</h1></main></body></html>"""


class ShopSite:
    """A four-page shop on 127.0.0.1:0; its home heading can be changed while it runs."""

    def __init__(self) -> None:
        self.heading = "Welcome to the tea shop"
        self.deleted = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def _send(self, body: str, status: int = 200) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                pages = {"/": HOME.format(heading=outer.heading), "/about": ABOUT, "/contact": CONTACT}
                self._send(
                    pages.get(self.path.split("?")[0], "<h1>Not found</h1>"),
                    200 if self.path.split("?")[0] in pages else 404,
                )

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/account/delete":
                    outer.deleted += 1
                self._send(THANKS)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def crawled(url: str) -> list[dict]:
    """The pages the crawler reports for ShopSite, written by hand."""
    contact = {
        "name": "Contact",
        "action": url + "/thanks",
        "method": "post",
        "submit": "Send",
        "fields": [
            {"label": "Your name", "type": "text", "name": "name", "required": True},
            {"label": "Email", "type": "email", "name": "email", "required": True},
            {"label": "Message", "type": "textarea", "name": "message", "required": False},
        ],
    }
    delete = {
        "name": "",
        "action": url + "/account/delete",
        "method": "post",
        "submit": "Delete my account",
        "fields": [],
    }

    def shop_page(path, title, heading, landmarks, parent=None, forms=(), links=(), texts=None):
        return {
            "url": url + path,
            "path": path,
            "status": 200,
            "title": title,
            "heading": heading,
            "landmarks": landmarks,
            "forms": list(forms),
            "links": [url + p for p in links],
            "linkTexts": {url + p: t for p, t in (texts or {}).items()},
            "depth": 0 if parent is None else 1,
            "pattern": path,
            "signature": path,
            "parent": url + parent if parent else None,
            "error": None,
            "exceptions": [],
            "failedRequests": [],
        }

    return [
        shop_page(
            "/",
            "Sentri Tea Shop",
            "Welcome to the tea shop",
            ["banner", "navigation", "main", "contentinfo"],
            links=["/", "/about", "/contact"],
            texts={"/": "Tea Shop", "/about": "About us", "/contact": "Contact"},
        ),
        shop_page(
            "/about",
            "About the shop",
            "About us",
            ["banner", "main"],
            parent="/",
            links=["/"],
            texts={"/": "Tea Shop"},
        ),
        shop_page(
            "/contact",
            "Contact the shop",
            "Write to us",
            ["main", "form"],
            parent="/",
            forms=[contact, delete],
        ),
    ]


async def _attempt(browser, steps: list[dict], base_url: str) -> StepFailed | None:
    """Run steps in a fresh context; return how they failed, or None when they passed."""
    context = await browser.new_context()
    try:
        await run_steps(await context.new_page(), steps, base_url, timeout_ms=2_000)
    except StepFailed as exc:
        return exc
    finally:
        await context.close()
    return None


async def _run_drafts_then_change_the_heading(shop: ShopSite, drafts: list[dict]):
    """Run every draft; then change the home heading and run the home page's draft again."""
    async with async_playwright() as pw:
        browser = await browsers.launch_chromium(pw.chromium, browsers.find_chromium("/usr/bin/chromium"))
        try:
            failures = {
                d["name"]: str(f) for d in drafts if (f := await _attempt(browser, d["steps"], shop.url))
            }
            shop.heading = "Welcome to the coffee shop"
            [home] = [d for d in drafts if d["sourcePage"] == shop.url + "/" and d["perspective"] == "page"]
            return failures, await _attempt(browser, home["steps"], shop.url)
        finally:
            await browser.close()


@pytest.mark.browser
def test_every_draft_passes_in_chromium_and_the_page_draft_fails_when_the_heading_changes():
    with ShopSite() as shop:
        drafts = make_drafts(crawled(shop.url), perspectives=ALL, fill_forms=True)
        assert {d["perspective"] for d in drafts} == set(ALL)
        failures, after_change = asyncio.run(_run_drafts_then_change_the_heading(shop, drafts))
        assert failures == {}
        assert shop.deleted == 0  # the delete form was looked at, never sent
        assert after_change is not None and after_change.action == "expect_visible"
        assert after_change.index == 3  # goto, title, then the heading


def test_a_page_drafts_cannot_express_is_left_out_rather_than_failing_the_whole_crawl():
    drafts = make_drafts(
        [page("//double"), page("/fine", landmarks=["banner", "not-a-role"])], perspectives=ALL
    )
    assert [d["sourcePage"] for d in drafts] == [BASE + "/fine"]
    assert {"action": "expect_visible", "target": {"role": "banner"}} in drafts[0]["steps"]
    assert all(s.get("target", {}).get("role") != "not-a-role" for s in drafts[0]["steps"])


def test_no_journey_when_an_earlier_link_has_the_same_name():
    pages = [
        page("/", links=["/old-news", "/news"], link_texts={"/old-news": "News", "/news": "News"}),
        page("/news", parent="/"),
    ]
    assert make_drafts(pages, perspectives=["full_journey"]) == []
