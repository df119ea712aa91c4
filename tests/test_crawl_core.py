"""The crawler: URL normalisation and patterns, the Frontier's caps against traps, the form filler's
refusals (fast, no browser); then real crawls of tests/support/crawl_site.py in Chromium, behind Sentri's
guard, against the exact page set its docstring promises."""

from __future__ import annotations

from collections import Counter

import pytest

from sentri import origins
from sentri.crawl import forms, structure
from sentri.crawl.crawler import CrawlOptions, crawl
from sentri.crawl.diff import diff
from sentri.crawl.urls import Frontier, normalize, pattern
from sentri.worker.guard import Guard, HostCache, gated_context
from tests.support.async_browser import chromium_on_own_loop
from tests.support.crawl_site import ITEMS, CrawlSite, FlatSite

B = "http://127.0.0.1:8000/"

# -- URLs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/about", "http://127.0.0.1:8000/about"),
        ("about#team", "http://127.0.0.1:8000/about"),
        ("HTTP://127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("/a?utm_source=x&b=2&a=1&gclid=z&fbclid=1&UTM_medium=m&_ga=1", "http://127.0.0.1:8000/a?a=1&b=2"),
        ("/a?b=2&a=1&b=1", "http://127.0.0.1:8000/a?a=1&b=2&b=1"),  # equal keys keep their order
        ("/search?q=", "http://127.0.0.1:8000/search?q="),
        ("https://127.0.0.1:8000/", None),  # another scheme is another origin
        ("http://127.0.0.1:8001/", None),
        ("https://elsewhere.example/", None),
        ("mailto:a@example.com", None),
        ("javascript:void(0)", None),
        ("http://[::1", None),
    ],
)
def test_normalize_keeps_one_spelling_per_same_origin_page(url, expected):
    assert normalize(url, B) == expected


def test_normalize_drops_default_ports_and_lowercases_the_host():
    assert normalize("HTTP://Example.COM:80/X", "http://example.com/") == "http://example.com/X"
    assert normalize("https://example.com:443/", "https://example.com") == "https://example.com/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/items/17", "/items/{n}"),
        ("http://h/calendar/2026/11", "/calendar/{n}/{n}"),
        ("http://h/day/2026-11-05", "/day/{n}"),
        ("http://h/search?q=shoes&page=2", "/search?page&q"),
        ("http://h/search?q=", "/search?q"),
        ("http://h/u/3f2b1c9e-2a4d-4c1b-9f00-1234567890ab/edit", "/u/{id}/edit"),
        ("http://h/o/5f3a9c0b12ef", "/o/{id}"),
        ("http://h/about", "/about"),
        ("http://h/s17/", "/s17/"),
    ],
)
def test_pattern_names_the_template_of_a_url(url, expected):
    assert pattern(url) == expected


# -- the Frontier --------------------------------------------------------------------------------------


def _drain(frontier: Frontier, signature: str | None = "same") -> list[str]:
    visited = []
    while (item := frontier.next()) is not None:
        visited.append(item.url.removeprefix(B[:-1]))
        frontier.done(item, signature)
    return visited


def _reasons(frontier: Frontier) -> Counter:
    return Counter(entry["reason"] for entry in frontier.skipped)


def test_the_frontier_caps_a_pattern_so_200_items_cost_five_urls():
    frontier = Frontier(B, max_pages=500, max_depth=5)
    for n in range(1, 201):
        frontier.offer(f"/items/{n}", 1)
    assert frontier.queued == 5
    assert _reasons(frontier) == {"trap": 195}
    # And the structure rule: two visits that sign alike settle the rest.
    assert _drain(frontier) == ["/items/1", "/items/2"]
    assert _reasons(frontier) == {"trap": 195, "duplicate_structure": 3}


def test_the_frontier_keeps_visiting_a_pattern_whose_pages_differ():
    frontier = Frontier(B, max_pages=500)
    for n in range(1, 5):
        frontier.offer(f"/items/{n}", 1)
    visited = []
    while (item := frontier.next()) is not None:
        visited.append(item.url)
        frontier.done(item, item.url)  # every page its own structure
    assert len(visited) == 4


@pytest.mark.parametrize(
    "chain",
    [
        lambda k: f"/calendar?month={2026 + k // 12}-{k % 12 + 1:02d}",
        lambda k: f"/calendar/{2026 + k // 12}/{k % 12 + 1}",
    ],
)
def test_a_calendar_linking_to_the_next_month_forever_stops(chain):
    frontier = Frontier(B, max_pages=500, max_depth=1000)
    depth = 0
    frontier.offer(chain(0), depth)
    while (item := frontier.next()) is not None:
        depth += 1
        frontier.done(item, f"month {depth}")  # each month its own structure: only the trap cap stops it
        frontier.offer(chain(depth), depth)
    assert depth == 5
    assert frontier.skipped == [{"url": normalize(chain(5), B), "reason": "trap"}]


def test_faceted_search_is_capped_per_parameter():
    frontier = Frontier(B, max_pages=500, per_pattern=1000)
    for n in range(30):
        frontier.offer(f"/search?color=c{n}", 1)
    assert frontier.queued == 10
    frontier.offer("/search?color=c3", 1)  # a known value is no new facet (and the URL a duplicate)
    assert _reasons(frontier) == {"facet": 20}


def test_a_crowded_section_waits_for_the_rest_of_the_site_and_never_cuts_below_max_pages():
    """Issue 28: 70 sibling apps under /examples/ and maxPages 80 stopped at 51 pages, 20 real ones called a trap."""
    frontier = Frontier(B, max_pages=80)
    for n in range(70):
        frontier.offer(f"/examples/app-{chr(97 + n % 26)}{chr(97 + n // 26)}/", 1)
    frontier.offer("/about", 1)
    visited = _drain(frontier, signature=None)
    assert len(visited) == 71 and frontier.skipped == []
    # With too small a budget, the section's first 50 and the rest of the site go first; what the budget
    # leaves is said by name.
    frontier = Frontier(B, max_pages=60)
    for n in range(70):
        frontier.offer(f"/examples/app-{chr(97 + n % 26)}{chr(97 + n // 26)}/", 1)
    frontier.offer("/about", 1)
    visited = _drain(frontier, signature=None)
    assert len(visited) == 60 and visited[50] == "/about" and visited[51].startswith("/examples/")
    frontier.drain("max_pages")
    assert _reasons(frontier) == {"section_cap": 11}


def test_the_frontier_records_every_refusal_with_its_reason():
    frontier = Frontier(B, max_pages=2, max_depth=1, allowed=lambda url: "/private" not in url)
    assert frontier.offer("/", 0, "start") is None
    assert frontier.offer("/#top", 0) == "duplicate"
    assert frontier.offer("/", 0) == "duplicate"  # the same spelling again: not recorded twice
    assert frontier.offer("/private", 1) == "robots"
    assert frontier.offer("https://elsewhere.example/", 1) == "offsite"
    assert frontier.offer("/deep", 2) == "depth"
    assert frontier.offer("/a", 1) is None
    assert frontier.offer("/b", 1) is None
    assert _drain(frontier) == ["/", "/a"]
    frontier.drain("max_pages")
    assert frontier.offer("/c", 1) == "max_pages"
    assert [(e["url"].removeprefix(B[:-1]), e["reason"]) for e in frontier.skipped] == [
        ("/#top", "duplicate"),
        ("/private", "robots"),
        ("https://elsewhere.example/", "offsite"),
        ("/deep", "depth"),
        ("/b", "max_pages"),
        ("/c", "max_pages"),
    ]


def test_a_level_starts_only_when_the_level_before_it_is_done():
    frontier = Frontier(B)
    frontier.offer("/", 0)
    frontier.offer("/x", 0)
    frontier.offer("/child", 1)
    first, second = frontier.next(), frontier.next()
    assert frontier.next() is None  # depth 0 still in flight
    frontier.done(first, "a")
    assert frontier.next() is None
    frontier.done(second, "b")
    assert frontier.next().url == B + "child"


def test_a_pattern_with_two_pages_in_flight_waits_for_their_structure():
    frontier = Frontier(B)
    for n in (1, 2, 3):
        frontier.offer(f"/items/{n}", 0)
    frontier.offer("/other", 0)
    one, two = frontier.next(), frontier.next()
    assert frontier.next().url == B + "other"  # /items/3 waits, /other need not
    frontier.done(one, "s")
    frontier.done(two, "s")
    assert frontier.next() is None
    assert frontier.skipped == [{"url": B + "items/3", "reason": "duplicate_structure"}]


# -- forms and structure -------------------------------------------------------------------------------

CONTACT = {
    "name": "Contact us",
    "action": "http://h/contact",
    "method": "post",
    "submit": "Send",
    "fields": [{"label": "Name", "type": "text", "name": "n", "required": True}],
}


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({}, None),
        ({"name": "DELETE account"}, "its name sounds destructive"),
        ({"submit": "Log out"}, "its submit sounds destructive"),
        ({"submit": "Sign-Out"}, "its submit sounds destructive"),
        ({"submit": "logout"}, "its submit sounds destructive"),
        ({"action": "http://h/account/remove"}, "its action sounds destructive"),
        ({"name": "Close account"}, "its name sounds destructive"),
        ({"submit": "Unsubscribe"}, "its submit sounds destructive"),
        ({"submit": "Reset password"}, "its submit sounds destructive"),
        ({"name": "Cancel order"}, "its name sounds destructive"),
        ({"submit": None}, "no submit button"),
        ({"fields": []}, "no fields"),
        (
            {"fields": [{"label": "P", "type": "password", "name": "p", "required": True}]},
            "fields of type password",
        ),
        ({"fields": [{"label": "F", "type": "file", "name": "f", "required": False}]}, "fields of type file"),
    ],
)
def test_only_harmless_forms_are_submitted(change, refused):
    assert forms.refusal(CONTACT | change) == refused


def test_a_signature_leaves_texts_out():
    facts = {
        "landmarks": ["main", "banner"],
        "outline": ["h1"],
        "forms": [CONTACT],
        "interactive": {"buttons": 1, "inputs": 1, "links": 3},
        "title": "Item 1",
        "heading": "Item 1",
    }
    same = facts | {
        "title": "Item 2",
        "heading": "Item 2",
        "landmarks": ["banner", "main"],
        "forms": [CONTACT | {"name": "Other", "submit": "Go"}],
    }
    assert structure.signature(facts) == structure.signature(same)
    assert structure.signature(facts) != structure.signature(facts | {"outline": ["h1", "h2"]})


# -- real crawls ---------------------------------------------------------------------------------------

EXPECTED = {
    "/": ("start", 0),
    "/about": ("sitemap", 1),
    "/orphan": ("sitemap", 1),
    "/contact": ("link", 1),
    "/calendar": ("link", 1),
    "/missing": ("link", 1),
    "/broken-js": ("link", 1),
    "/broken-image": ("link", 1),
    "/items": ("link", 1),
    "/calendar?month=2026-12": ("link", 2),
    "/items/1": ("link", 2),
    "/items/2": ("link", 2),
    "/calendar?month=2027-01": ("link", 3),
}


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, on an event loop of its own."""
    yield from chromium_on_own_loop()


def _crawl(browser, options: CrawlOptions, networks: str = "", **kwargs):
    """Crawl in a context built as the executor builds a test's: service workers blocked, Sentri's guard
    installed behind its gate (`networks`: the blocked ones; "" blocks none, so loopback is reachable)."""
    loop, chromium = browser
    contexts = []
    options.blocked_networks = origins.parse_networks(networks)

    async def new_context(**options_):
        context, gate = await gated_context(chromium, options.blocked_networks, options_)
        guard = Guard(
            networks=options.blocked_networks,
            hosts=HostCache(),
            refusals=gate.refusals,
            trusted=origins.TrustedOrigins([options.base_url], []),
        )
        await guard.install(context, options.base_url)
        state = {"pages": 0, "open_at_close": None}
        context.on("page", lambda page: state.__setitem__("pages", state["pages"] + 1))
        context.on("close", lambda _: state.__setitem__("open_at_close", len(context.pages)))
        contexts.append((context, options_, state))
        return context

    outcome = loop.run_until_complete(crawl(new_context, options, **kwargs))
    [(context, made_with, state)] = contexts
    assert made_with["user_agent"].startswith("Sentri/")
    assert context not in chromium.contexts  # closed by the crawl
    assert state["pages"] > 0 and state["open_at_close"] == 0  # and every page before it
    return outcome


def _paths(outcome) -> list[str]:
    return [page["path"] for page in outcome.pages]


def _skipped(outcome, site) -> dict[str, str]:
    return {entry["url"].removeprefix(site.url): entry["reason"] for entry in outcome.skipped}


@pytest.fixture(scope="module")
def default_crawl(browser):
    with CrawlSite() as site:
        progress = []
        outcome = _crawl(browser, CrawlOptions(site.url), progress=progress.append)
        yield site, outcome, progress


@pytest.mark.browser
def test_the_fixture_site_crawls_to_exactly_the_expected_pages(default_crawl):
    site, outcome, progress = default_crawl
    assert {page["path"]: (page["source"], page["depth"]) for page in outcome.pages} == EXPECTED
    assert _paths(outcome)[0] == "/" and len(outcome.pages) == len(EXPECTED)
    skipped = _skipped(outcome, site)
    assert skipped["/private"] == "robots" and "/private" not in site.paths
    assert skipped["/#section"] == skipped["/about?utm_source=x"] == "duplicate"
    assert skipped["https://elsewhere.example/"] == "offsite"
    assert skipped["/calendar?month=2027-02"] == "depth"
    assert [skipped[f"/items/{n}"] for n in (3, 4, 5)] == ["duplicate_structure"] * 3
    assert {skipped[f"/items/{n}"] for n in range(6, ITEMS + 1)} == {"trap"}
    assert len(outcome.skipped) == 4 + 1 + 3 + (ITEMS - 5)
    assert outcome.robots is True and outcome.sitemap_urls == 3 and outcome.notes == []
    assert progress[-1] == {
        "found": len(EXPECTED) + len(outcome.skipped),
        "visited": len(EXPECTED),
        "queued": 0,
    }
    assert [p["visited"] for p in progress] == list(range(1, len(EXPECTED) + 1))


@pytest.mark.browser
def test_each_page_says_what_is_on_it_and_what_went_wrong(default_crawl):
    site, outcome, _ = default_crawl
    pages = {page["path"]: page for page in outcome.pages}
    home = pages["/"]
    assert home["url"] == home["requestedUrl"] == site.url + "/"
    assert (home["status"], home["title"], home["heading"], home["error"]) == (
        200,
        "Crawl home",
        "Crawl home",
        None,
    )
    assert home["landmarks"] == ["banner", "navigation", "main", "contentinfo"]
    assert home["links"] == [
        site.url + path
        for path in (
            "/",
            "/about",
            "/contact",
            "/private",
            "/calendar",
            "/missing",
            "/broken-js",
            "/broken-image",
            "/items",
        )
    ]
    assert home["consoleErrors"] == home["exceptions"] == home["failedRequests"] == []
    assert home["vitals"].keys() == {"lcp", "cls", "ttfb", "fcp", "inp"}
    assert home["vitals"]["ttfb"] is not None and home["vitals"]["fcp"] is not None
    assert home["parent"] is None and pages["/contact"]["parent"] == home["url"]
    assert home["linkTexts"][site.url + "/about"] == "About"  # what a journey draft clicks
    assert pages["/items/1"]["pattern"] == "/items/{n}"
    assert pages["/items/1"]["signature"] == pages["/items/2"]["signature"] != home["signature"]
    assert pages["/missing"]["status"] == 404
    assert pages["/broken-js"]["exceptions"] == ["Error: crawl boom"]
    assert pages["/broken-image"]["failedRequests"] == [{"url": site.url + "/img/broken.png", "status": 500}]
    contact, delete = pages["/contact"]["forms"]
    assert contact == {
        "name": "Contact us",
        "action": site.url + "/contact",
        "method": "post",
        "submit": "Send",
        "fields": [
            {"label": "Name", "placeholder": "", "type": "text", "name": "name", "required": True},
            {"label": "Email", "placeholder": "", "type": "email", "name": "email", "required": True},
        ],
    }
    assert (delete["name"], delete["submit"], delete["action"]) == (
        "Delete account",
        "Delete account",
        site.url + "/account/delete",
    )
    assert "formSubmissions" not in pages["/contact"] and site.posts == []


@pytest.mark.browser
def test_without_robots_the_private_page_is_visited(browser):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url, respect_robots=False))
        assert set(_paths(outcome)) == set(EXPECTED) | {"/private"}
        assert "/private" in site.paths


@pytest.mark.browser
def test_fill_forms_sends_the_contact_form_and_never_the_delete_one(browser):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url, fill_forms=True, max_depth=1))
        contact = next(page for page in outcome.pages if page["path"] == "/contact")
        assert contact["formSubmissions"] == [
            {"form": "Contact us", "url": site.url + "/thanks", "status": 200, "error": None}
        ]
        assert site.posts == [("/contact", {"name": "Sentri test", "email": "sentri@example.com"})]
        assert not any(path.startswith("/account") for path in site.paths)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_pages": 4}, ["/", "/about", "/orphan", "/contact"]),
        ({"max_depth": 0}, ["/"]),
        (
            {"max_depth": 1},
            [
                "/",
                "/about",
                "/orphan",
                "/contact",
                "/calendar",
                "/missing",
                "/broken-js",
                "/broken-image",
                "/items",
            ],
        ),
    ],
)
def test_max_pages_and_max_depth_are_kept(browser, limits, expected):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url, **limits))
        assert _paths(outcome) == expected
        reasons = set(_skipped(outcome, site).values())
        assert ("max_pages" in reasons) == ("max_pages" in limits)


@pytest.mark.browser
def test_a_shallower_crawl_calls_nothing_removed_and_a_page_taken_off_the_site_is(browser, default_crawl):
    """Issue 28: a depth-0 crawl listed every page it did not visit as removed."""
    _, before, _ = default_crawl
    with CrawlSite() as site:
        shallow = _crawl(browser, CrawlOptions(site.url, max_depth=0))
    change = diff(before.pages, shallow.pages, shallow.skipped, all_listed=shallow.all_listed)
    assert (change["removed"], change["added"]) == ([], [])
    assert change["notReached"] == sorted(set(EXPECTED) - {"/"})
    with CrawlSite(gone=("/contact",)) as site:
        after = _crawl(browser, CrawlOptions(site.url))
    change = diff(before.pages, after.pages, after.skipped, all_listed=after.all_listed)
    assert (change["removed"], change["notReached"], change["added"]) == (["/contact"], [], [])


@pytest.mark.browser
def test_a_flat_site_of_more_siblings_than_a_section_holds_is_crawled_up_to_max_pages(browser):
    """Issue 28: maxPages 80 on 70 sibling apps stopped at 51 pages and called 20 of them (one broken) a trap."""
    with FlatSite(55, broken=53) as site:
        outcome = _crawl(browser, CrawlOptions(site.url, max_pages=80, concurrency=4))
    paths = _paths(outcome)
    assert len(paths) == 56 and len(set(paths)) == 56 and outcome.skipped == []
    assert (
        next(page["status"] for page in outcome.pages if page["path"] == f"/examples/{site.broken}/") == 500
    )


@pytest.mark.browser
def test_two_pages_at_once_visit_the_same_pages(browser):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url, concurrency=2))
        assert {page["path"]: (page["source"], page["depth"]) for page in outcome.pages} == EXPECTED
        assert _skipped(outcome, site)["/items/3"] == "duplicate_structure"


@pytest.mark.browser
def test_should_stop_ends_the_crawl_early_with_what_was_found(browser):
    with CrawlSite() as site:
        seen = []
        outcome = _crawl(
            browser, CrawlOptions(site.url), progress=seen.append, should_stop=lambda: len(seen) >= 3
        )
        assert _paths(outcome) == ["/", "/about", "/orphan"]
        assert outcome.notes == ["stopped early on request after 3 page(s)"]
        assert "stopped" in set(_skipped(outcome, site).values())


@pytest.mark.browser
def test_garbage_robots_and_sitemap_are_ignored_with_a_note(browser):
    with CrawlSite(garbage=True) as site:
        outcome = _crawl(browser, CrawlOptions(site.url, max_depth=1))
        assert outcome.robots is False and outcome.sitemap_urls == 0
        assert outcome.notes == [
            "robots.txt ignored: an HTML page",
            f"sitemap {site.url}/sitemap.xml ignored: no pages in it (empty or broken)",
        ]
        # No robots.txt rules: /private is crawled; no sitemap: /orphan is not.
        assert set(_paths(outcome)) == {
            "/",
            "/contact",
            "/private",
            "/calendar",
            "/missing",
            "/broken-js",
            "/broken-image",
            "/items",
            "/about",
        }


@pytest.mark.browser
def test_a_guard_that_blocks_the_site_makes_page_errors_not_a_crash(browser):
    with CrawlSite() as site:
        outcome = _crawl(browser, CrawlOptions(site.url), networks="127.0.0.0/8")
        assert site.paths == []
        [page] = outcome.pages
        assert (
            "ERR_BLOCKED_BY_CLIENT" in page["error"] and page["status"] is None and page["signature"] is None
        )
        assert outcome.robots is False
        assert [note.split(": ")[0] for note in outcome.notes] == [
            "robots.txt ignored",
            f"sitemap {site.url}/sitemap.xml ignored",
        ]
