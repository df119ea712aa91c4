"""What a crawl keeps is bounded however hostile the site (one page once made a 266 MB crawl
record): every string a page controls within its cap, every list within its count, each page record, the
skip list and a crawl's pages within their bytes (sentri/crawl/limits.py); and a list of crawls reads no
page record at all."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import event

from sentri import projects, users
from sentri.crawl import drafts, forms, limits
from sentri.crawl.crawler import CrawlOptions
from sentri.crawl.limits import MAX_MESSAGE, MAX_TEXT, MAX_TITLE, MAX_URL, MAX_WORD
from sentri.crawl.models import Crawl
from sentri.crawl.settings import CrawlSettings
from sentri.crawl.urls import Frontier
from sentri.extensions import db
from sentri.queue import crawl_ends, crawls
from sentri.timestamps import utcnow
from tests.conftest import _make_user, both_databases
from tests.support.async_browser import chromium_on_own_loop
from tests.support.crawl_site import CrawlSite
from tests.support.flood_site import FloodSite
from tests.support.pages import PASSWORD, Browser
from tests.test_crawl_core import _crawl, _paths, _skipped

B = "http://127.0.0.1:8000/"
ASTRAL = "\U0001f600"  # one character, twelve bytes once escaped in stored JSON
# The cap of every string a crawl stores, by the key it is stored under (a link text: "linkText").
CAPS = {
    "url": MAX_URL,
    "requestedUrl": MAX_URL,
    "path": MAX_URL,
    "pattern": MAX_URL,
    "parent": MAX_URL,
    "action": MAX_URL,
    "links": MAX_URL,
    "title": MAX_TITLE,
    "heading": MAX_TITLE,
    "name": MAX_TEXT,
    "label": MAX_TEXT,
    "placeholder": MAX_TEXT,
    "submit": MAX_TEXT,
    "form": MAX_TEXT,
    "linkText": MAX_TEXT,
    "consoleErrors": MAX_MESSAGE,
    "exceptions": MAX_MESSAGE,
    "error": MAX_MESSAGE,
    "failure": MAX_MESSAGE,
    "notes": MAX_MESSAGE,
    "type": MAX_WORD,
    "method": MAX_WORD,
    "source": MAX_WORD,
    "landmarks": MAX_WORD,
    "cut": MAX_WORD,
    "reason": MAX_WORD,
    "signature": 64,
}


def _strings(value, key: str | None = None):
    """Yield (the key it is stored under, string) for every string in a stored value, link texts' URLs too."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, dict):
        for name, item in value.items():
            if key == "linkTexts":
                yield "url", name
            yield from _strings(item, "linkText" if key == "linkTexts" else name)


def _over_cap(value, key: str | None = None) -> list[tuple[str, int]]:
    """The strings longer than their cap, as (key, length); a key with no cap has none."""
    return [(name, len(text)) for name, text in _strings(value, key) if len(text) > CAPS.get(name, 0)]


# -- strings and lists ---------------------------------------------------------------------------------


def test_a_page_record_is_bounded_whatever_the_page_made_of_it():
    # Every string in the costliest characters: what is left once the lists are cut must still fit.
    url, big = B + ASTRAL * 10_000, ASTRAL * 10_000
    field = {"label": big, "placeholder": big, "type": big, "name": big, "required": "yes"}
    raw = {
        "url": url,
        "requestedUrl": url,
        "path": big,
        "pattern": big,
        "parent": url,
        "status": "200",
        "title": big,
        "heading": big,
        "landmarks": ["main", big, "banner"] + ["navigation"] * 1_000,
        "forms": [{"name": big, "action": url, "method": big, "submit": big, "fields": [field] * 100}] * 100,
        "links": [f"{B}{n}" for n in range(5_000)] + [url],
        "linkTexts": {f"{B}{n}": big for n in range(5_000)},
        "consoleErrors": [big] * 100,
        "exceptions": [big, 3] * 50,
        "failedRequests": [{"url": url, "status": None, "failure": big}] * 100,
        "vitals": {"lcp": big, "cls": 0.1, "ttfb": float("nan")},
        "depth": "deep",
        "signature": big,
        "source": big,
        "error": big,
        "formSubmissions": [{"form": big, "url": url, "status": 200, "error": big}] * 9,
        "surprise": big,
    }
    page = limits.page(raw)
    assert _over_cap(page) == []
    assert limits.size(page) <= limits.MAX_PAGE_BYTES
    assert page["cut"] == list(limits.TRIMMED)
    assert page["links"] == [] and page["linkTexts"] == {}
    assert (page["status"], page["depth"], page["vitals"]) == (
        None,
        0,
        {"lcp": None, "cls": 0.1, "ttfb": None, "fcp": None, "inp": None},
    )
    assert page["landmarks"] == ["main", "banner", "navigation"] and "surprise" not in page
    # What is left whatever the page did: its address, its texts at their caps, its error.
    assert (len(page["url"]), len(page["title"]), len(page["error"])) == (MAX_URL, MAX_TITLE, MAX_MESSAGE)
    assert limits.page(page) == page  # bounded again as it is stored: the same, and still says what was cut


def test_a_page_over_its_bytes_keeps_the_most_links_that_fit_with_their_texts():
    links = [f"{B}{n}" for n in range(300)]
    page = limits.page({"url": B, "links": links, "linkTexts": dict.fromkeys(links, ASTRAL * 1000)})
    assert 0 < len(page["links"]) < limits.MAX_STORED_LINKS and page["cut"] == ["links"]
    assert page["links"] == links[: len(page["links"])] and set(page["linkTexts"]) == set(page["links"])
    assert limits.size(page) <= limits.MAX_PAGE_BYTES
    one_more = limits.page(
        {"url": B, "links": links[: len(page["links"]) + 1], "linkTexts": dict.fromkeys(links, ASTRAL * 1000)}
    )
    assert (
        limits.size(
            {
                **one_more,
                "links": links[: len(page["links"]) + 1],
                "cut": ["links"],
                "linkTexts": dict.fromkeys(links[: len(page["links"]) + 1], ASTRAL * MAX_TEXT),
            }
        )
        > limits.MAX_PAGE_BYTES
    )  # not one link fewer than would fit
    small = limits.page({"url": B, "links": links[:10]})
    assert small["links"] == links[:10] and "cut" not in small


def test_a_url_longer_than_its_cap_is_skipped_by_name_never_followed_cut():
    frontier = Frontier(B, max_pages=10)
    fits = B + "a" * (MAX_URL - len(B))
    assert frontier.offer(fits, 1) is None
    assert frontier.offer(fits + "b", 1) == "too_long"
    # Normalising can lengthen a URL (a quote in a query is encoded as %27): measured after it too.
    assert frontier.offer(B + "?q=" + "'" * 700, 1) == "too_long"
    assert frontier.skipped == [
        {"url": (fits + "b")[:MAX_URL], "reason": "too_long"},
        {"url": (B + "?q=" + "%27" * 700)[:MAX_URL], "reason": "too_long"},
    ]
    assert [item.url for item in iter(frontier.next, None)] == [fits]


def test_the_skip_list_is_bounded_in_entries_and_bytes_and_counts_the_rest():
    frontier = Frontier(B)
    for n in range(3_000):
        frontier.offer(f"https://elsewhere.example/{n}", 1)
    assert len(frontier.skipped) == limits.MAX_SKIPPED and frontier.unlisted == 1_000
    frontier = Frontier(B)
    for n in range(1_000):
        frontier.offer(f"https://elsewhere.example/{n}?" + "a" * 5_000, 1)
    assert limits.size(frontier.skipped) <= limits.MAX_SKIPPED_BYTES
    assert len(frontier.skipped) + frontier.unlisted == 1_000 and frontier.unlisted > 0
    assert {len(entry["url"]) for entry in frontier.skipped} == {MAX_URL}


def test_a_form_cut_to_the_limits_is_neither_submitted_nor_drafted_to_be_sent():
    # "…delete" past the cut: what a form's name said after its first MAX_TEXT characters is unknown.
    form = {
        "name": "a" * MAX_TEXT,
        "action": B + "contact",
        "method": "post",
        "submit": "Send",
        "fields": [{"label": "Name", "placeholder": "", "type": "text", "name": "name", "required": True}],
    }
    assert forms.refusal(form) == "its name is too long to judge"
    assert forms.refusal({**form, "name": "a" * (MAX_TEXT - 1)}) is None
    assert (
        forms.refusal({**form, "name": "Contact", "action": B + "a" * MAX_URL})
        == "its action is too long to judge"
    )
    page = {
        "url": B + "contact",
        "path": "/contact",
        "status": 200,
        "title": "Contact",
        "depth": 1,
        "pattern": "/contact",
        "forms": [form],
        "links": [],
        "linkTexts": {},
    }
    sent = drafts.make_drafts([page], perspectives=["form_journey"], fill_forms=True, base_url=B)
    assert sent == []
    assert drafts.make_drafts(
        [{**page, "forms": [{**form, "name": "Contact"}]}],
        perspectives=["form_journey"],
        fill_forms=True,
        base_url=B,
    )


# -- a crawl's totals, and real crawls ---------------------------------------------------------------


def test_the_stored_outcome_keeps_pages_within_the_crawls_bytes_and_says_what_it_left_out():
    pages = [
        {
            "url": f"{B}{n}",
            "path": f"/{n}",
            "title": "t" * MAX_TITLE,
            "links": [f"{B}{n}/{k}" for k in range(50)],
        }
        for n in range(40)
    ]
    budget = limits.size([limits.page(page) for page in pages[:10]]) + 2  # counted with a ", " after the last
    stored = limits.outcome(
        {
            "pages": pages,
            "skipped": [{"url": "x" * 10**5, "reason": "r" * 100}] * 5,
            "notes": ["n" * 10**4] * 100,
        },
        max_bytes=budget,
    )
    assert [page["path"] for page in stored["pages"]] == [f"/{n}" for n in range(10)]
    assert limits.size(stored["pages"]) <= budget
    assert stored["skipped"] == [{"url": "x" * MAX_URL, "reason": "r" * MAX_WORD}] * 5
    assert len(stored["notes"]) == limits.MAX_NOTES and _over_cap(stored["notes"], "notes") == []
    # The first notes and the last (why the crawl stopped, what it left out) are kept.
    assert stored["notes"][40] == "52 more notes not kept (at most 50 are)"
    assert stored["notes"][-1] == "30 page(s) not kept: a crawl's pages take at most " + limits.megabytes(
        budget
    )
    assert (
        limits.outcome(stored, max_bytes=budget)["pages"] == stored["pages"]
    )  # bounding twice changes nothing
    unbounded = limits.outcome({"pages": pages[:3], "skipped": [], "notes": []}, max_bytes=budget)
    assert unbounded["notes"] == [] and len(unbounded["pages"]) == 3


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, on an event loop of its own."""
    yield from chromium_on_own_loop()


@pytest.mark.browser
def test_a_crawl_stops_before_its_pages_pass_its_bytes_and_says_so(browser):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url, max_bytes=4_000))
        order = [
            "/",
            "/about",
            "/orphan",
            "/contact",
            "/calendar",
            "/missing",
            "/broken-js",
            "/broken-image",
            "/items",
        ]
        kept = _paths(outcome)
        assert 1 < len(kept) < len(order) and kept == order[: len(kept)]
        assert limits.size(outcome.pages) <= 4_000
        skipped = _skipped(outcome, site)
        assert skipped[order[len(kept)]] == "crawl_size"  # the page that would not fit
        assert outcome.notes == [
            f"the crawl stopped after {len(kept)} page(s): its pages take at most 3.90625 KB "
            "(the rest are skipped as crawl_size)"
        ]


def _wait(client, headers, url, timeout=180):
    deadline = time.monotonic() + timeout
    while (body := client.get(url, headers=headers).get_json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    return body


@pytest.mark.browser
def test_a_flooding_site_leaves_a_small_crawl_record_with_every_string_within_its_cap(app_factory):
    app = app_factory(
        SENTRI_STEP_TIMEOUT_MS=60_000
    )  # the flood's pages take seconds to build on a busy machine
    client = app.test_client()
    _, headers = _make_user(app, "member@example.com", "member")
    with FloodSite() as site:
        base = site.url
        with app.app_context():
            project_id = projects.create("Flood", base).public_id
        answer = client.post(
            f"/api/v1/projects/{project_id}/crawls", headers=headers, json={"fillForms": True, "maxDepth": 1}
        )
        assert answer.status_code == 202, answer.get_json()
        body = _wait(client, headers, answer.get_json()["statusUrl"])
    assert body["status"] == "completed", body
    with app.app_context():
        crawl = db.session.query(Crawl).one()
        pages, skipped, notes = crawl.pages, crawl.skipped, crawl.notes
    by_path = {page["path"]: page for page in pages}
    home, flood_forms, failing = by_path["/"], by_path["/forms"], by_path["/failing"]

    # Small: each page within its bytes (the caps' worst case), where the same crawl stored 352 MB before.
    assert limits.size(pages) <= 2 + len(pages) * (limits.MAX_PAGE_BYTES + 1) < 1024**2
    assert limits.size(skipped) <= limits.MAX_SKIPPED_BYTES and len(notes) <= limits.MAX_NOTES
    assert _over_cap(pages) == [] and _over_cap(skipped) == [] and _over_cap(notes, "notes") == []
    # Read to the caps, not crashed on: the flood's lists are as long as the crawl keeps.
    assert len(home["title"]) == len(home["heading"]) == MAX_TITLE
    assert home["links"][:2] == [base + "/forms", base + "/failing"] and home["cut"] == ["links"]
    assert {len(text) for url, text in home["linkTexts"].items() if "/n/" in url} == {MAX_TEXT}
    assert (
        len(flood_forms["forms"]) <= limits.MAX_FORMS
        and len(flood_forms["forms"][0]["fields"]) == limits.MAX_FIELDS
    )
    assert {len(form["action"]) for form in flood_forms["forms"]} == {MAX_URL}
    assert flood_forms["formSubmissions"] == []  # fillForms: each name was cut before its "delete"
    assert len(failing["failedRequests"]) == limits.MAX_FAILED_REQUESTS
    assert len(failing["consoleErrors"]) == len(failing["exceptions"]) == limits.MAX_MESSAGES
    # No URL longer than its cap was followed, cut or whole: they are skipped by name.
    assert not any(re.match(r"/[ps]/", page["path"]) for page in pages)
    assert Counter(entry["reason"] for entry in skipped)["too_long"] > 0
    assert len(notes) == limits.MAX_NOTES  # the robots.txt's 60 sitemaps on another site, and:
    assert "skip list is full" in notes[-1] and "more notes not kept" in notes[40]


# -- listing crawls ------------------------------------------------------------------------------------


def _page(n: int, broken: bool) -> dict:
    return {
        "url": f"{B}p{n}",
        "path": f"/p{n}",
        "status": 500 if broken else 200,
        "title": f"Page {n}",
        "links": [f"{B}p{n}/{k}" for k in range(100)],
        "depth": 1,
    }


@both_databases
def test_listing_crawls_reads_no_page_record(app):
    with app.app_context():
        project = projects.create("Listed", "http://127.0.0.1:9")
        project_id = project.public_id
        for _ in range(3):
            crawls.start(project, CrawlSettings(), base_url=project.base_url, triggered_by="test")
            crawl_ends.finish(
                crawls.claim("lister", 60),
                {
                    "pages": [_page(n, n % 4 == 0) for n in range(40)],
                    "skipped": [{"url": f"{B}x", "reason": "trap"}],
                    "notes": ["n"],
                },
            )
        users.create_user("reader@example.com", PASSWORD, role="member")
        engine = db.engine
    client = app.test_client()
    _, headers = _make_user(app, "member@example.com", "member")
    reader = Browser(app.test_client(), "reader@example.com")
    statements = []

    def heard(_connection, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", heard)
    try:
        listed = client.get(f"/api/v1/projects/{project_id}/crawls", headers=headers).get_json()
        page = reader.html(f"/projects/{project_id}/crawls")
    finally:
        event.remove(engine, "before_cursor_execute", heard)
    assert [(c["status"], c["pagesFound"], c["broken"]) for c in listed] == [("completed", 40, 10)] * 3
    assert page.count("<td>40</td><td>10</td>") == 3
    assert any("FROM crawls" in statement for statement in statements)
    assert [s for s in statements if re.search(r"crawls\.(pages|skipped|notes)\b", s)] == []


@both_databases
def test_the_migration_counts_the_pages_of_crawls_stored_before_it(app):
    table = sa.table(
        "crawls",
        sa.column("id"),
        sa.column("project_id"),
        sa.column("status"),
        sa.column("triggered_by"),
        sa.column("base_url"),
        sa.column("options", sa.JSON),
        sa.column("progress", sa.JSON),
        sa.column("pages", sa.JSON),
        sa.column("stop_requested"),
        sa.column("created_at", sa.DateTime),
        sa.column("page_count"),
        sa.column("broken_count"),
    )
    pages = [_page(n, n < 3) for n in range(7)] + [
        {**_page(7, False), "exceptions": ["Error: boom"]},
        {**_page(8, False), "failedRequests": [{"url": f"{B}a.png", "status": 404}]},
    ]
    with app.app_context():
        project = projects.create("Before", "http://127.0.0.1:9")
        downgrade(revision="0012")
        for listed in (pages, None):  # a finished crawl, and one not finished (no pages: nothing to count)
            db.session.execute(
                sa.insert(table).values(
                    project_id=project.id,
                    status="completed" if listed else "queued",
                    triggered_by="t",
                    base_url=project.base_url,
                    options={},
                    progress={},
                    pages=listed,
                    stop_requested=False,
                    created_at=utcnow(),
                )
            )
        db.session.commit()
        upgrade()
        counted = db.session.execute(
            sa.select(table.c.page_count, table.c.broken_count).order_by(table.c.id)
        ).all()
    assert [tuple(row) for row in counted] == [(9, 5), (None, None)]
