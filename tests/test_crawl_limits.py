"""What a crawl keeps is bounded however hostile the site (issue 27: one page once made a 266 MB crawl
record): every string a page controls within its cap, every list within its count, each page record and
the skip list within their bytes (sentri/crawl/limits.py)."""

from __future__ import annotations

from sentri.crawl import drafts, forms, limits
from sentri.crawl.limits import MAX_MESSAGE, MAX_TEXT, MAX_TITLE, MAX_URL, MAX_WORD
from sentri.crawl.urls import Frontier

B = "http://127.0.0.1:8000/"
ASTRAL = "\U0001f600"  # one character, twelve bytes once escaped in stored JSON
# The cap of every string a crawl stores, by the key it is stored under (a link text: "linkText").
CAPS = {"url": MAX_URL, "requestedUrl": MAX_URL, "path": MAX_URL, "pattern": MAX_URL, "parent": MAX_URL,
        "action": MAX_URL, "links": MAX_URL, "title": MAX_TITLE, "heading": MAX_TITLE, "name": MAX_TEXT,
        "label": MAX_TEXT, "placeholder": MAX_TEXT, "submit": MAX_TEXT, "form": MAX_TEXT, "linkText": MAX_TEXT,
        "consoleErrors": MAX_MESSAGE, "exceptions": MAX_MESSAGE, "error": MAX_MESSAGE, "failure": MAX_MESSAGE,
        "notes": MAX_MESSAGE, "type": MAX_WORD, "method": MAX_WORD, "source": MAX_WORD, "landmarks": MAX_WORD,
        "cut": MAX_WORD, "reason": MAX_WORD, "signature": 64}


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
    raw = {"url": url, "requestedUrl": url, "path": big, "pattern": big, "parent": url,
           "status": "200", "title": big, "heading": big, "landmarks": ["main", big, "banner"] + ["navigation"] * 1_000,
           "forms": [{"name": big, "action": url, "method": big, "submit": big, "fields": [field] * 100}] * 100,
           "links": [f"{B}{n}" for n in range(5_000)] + [url], "linkTexts": {f"{B}{n}": big for n in range(5_000)},
           "consoleErrors": [big] * 100, "exceptions": [big, 3] * 50,
           "failedRequests": [{"url": url, "status": None, "failure": big}] * 100,
           "vitals": {"lcp": big, "cls": 0.1, "ttfb": float("nan")}, "depth": "deep", "signature": big,
           "source": big, "error": big, "formSubmissions": [{"form": big, "url": url, "status": 200, "error": big}] * 9,
           "surprise": big}
    page = limits.page(raw)
    assert _over_cap(page) == []
    assert limits.size(page) <= limits.MAX_PAGE_BYTES
    assert page["cut"] == list(limits.TRIMMED)
    assert page["links"] == [] and page["linkTexts"] == {}
    assert (page["status"], page["depth"], page["vitals"]) == (None, 0, {"lcp": None, "cls": 0.1, "ttfb": None,
                                                                         "fcp": None, "inp": None})
    assert page["landmarks"] == ["main", "banner", "navigation"] and "surprise" not in page
    # What is left whatever the page did: its address, its texts at their caps, its error.
    assert (len(page["url"]), len(page["title"]), len(page["error"])) == (MAX_URL, MAX_TITLE, MAX_MESSAGE)
    assert limits.page(page) == page  # bounded again as it is stored: the same, and still says what was cut


def test_a_page_over_its_bytes_keeps_the_most_links_that_fit_with_their_texts():
    links = [f"{B}{n}" for n in range(300)]
    page = limits.page({"url": B, "links": links, "linkTexts": {url: ASTRAL * 1_000 for url in links}})
    assert 0 < len(page["links"]) < limits.MAX_STORED_LINKS and page["cut"] == ["links"]
    assert page["links"] == links[:len(page["links"])] and set(page["linkTexts"]) == set(page["links"])
    assert limits.size(page) <= limits.MAX_PAGE_BYTES
    one_more = limits.page({"url": B, "links": links[:len(page["links"]) + 1],
                            "linkTexts": {url: ASTRAL * 1_000 for url in links}})
    assert limits.size({**one_more, "links": links[:len(page["links"]) + 1], "cut": ["links"],
                        "linkTexts": {url: ASTRAL * MAX_TEXT for url in links[:len(page["links"]) + 1]}}
                       ) > limits.MAX_PAGE_BYTES  # not one link fewer than would fit
    small = limits.page({"url": B, "links": links[:10]})
    assert small["links"] == links[:10] and "cut" not in small


def test_a_url_longer_than_its_cap_is_skipped_by_name_never_followed_cut():
    frontier = Frontier(B, max_pages=10)
    fits = B + "a" * (MAX_URL - len(B))
    assert frontier.offer(fits, 1) is None
    assert frontier.offer(fits + "b", 1) == "too_long"
    # Normalising can lengthen a URL (a quote in a query is encoded as %27): measured after it too.
    assert frontier.offer(B + "?q=" + "'" * 700, 1) == "too_long"
    assert frontier.skipped == [{"url": (fits + "b")[:MAX_URL], "reason": "too_long"},
                                {"url": (B + "?q=" + "%27" * 700)[:MAX_URL], "reason": "too_long"}]
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
    form = {"name": "a" * MAX_TEXT, "action": B + "contact", "method": "post", "submit": "Send",
            "fields": [{"label": "Name", "placeholder": "", "type": "text", "name": "name", "required": True}]}
    assert forms.refusal(form) == "its name is too long to judge"
    assert forms.refusal({**form, "name": "a" * (MAX_TEXT - 1)}) is None
    assert forms.refusal({**form, "name": "Contact", "action": B + "a" * MAX_URL}) == "its action is too long to judge"
    page = {"url": B + "contact", "path": "/contact", "status": 200, "title": "Contact", "depth": 1,
            "pattern": "/contact", "forms": [form], "links": [], "linkTexts": {}}
    sent = drafts.make_drafts([page], perspectives=["form_journey"], fill_forms=True, base_url=B)
    assert sent == []
    assert drafts.make_drafts([{**page, "forms": [{**form, "name": "Contact"}]}], perspectives=["form_journey"],
                              fill_forms=True, base_url=B)
