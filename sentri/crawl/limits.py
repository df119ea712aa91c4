"""How much of a crawled site a crawl keeps: every string a page controls is cut, every list is capped, and
each page record, the skip list and the crawl's pages as a whole have a size in bytes they never pass.

A site is free to be hostile: one page of 105 KB gzip, built out by its own script, once made a 266 MB
crawl record. So the bounds apply three times: in the page, where FACTS_SCRIPT (structure.py)
cuts what it reads before it crosses into Python; as Python receives anything (the page listener, the
frontier); and authoritatively here, on the page records and the outcome just before they are stored
(after secrets are masked, which may lengthen a text).

Strings (characters; a cut text keeps its start, so a draft's texts stay substrings of the page's):

* MAX_URL (2048, the sitemap protocol's limit): page URLs, paths and patterns, form actions, failed
  requests, skipped URLs. A link or sitemap URL longer than that is never visited: it is skipped as
  ``too_long``. The in-page script hands over such a link cut to MAX_URL + 1, so Python can tell;
* MAX_TEXT (300, above drafts.MAX_TEXT so a draft tells a cut text from a whole one): link texts, form
  names, field labels, placeholders and names, button names;
* MAX_TITLE (500): the title and the main heading;
* MAX_MESSAGE (500): console errors, exceptions, a page's error, a failed request's reason, notes;
* MAX_WORD (32): the short words a page can still spell (field types, form methods).

Counts: MAX_LINKS_READ links read per page (they feed the frontier), MAX_STORED_LINKS kept; MAX_FORMS
forms per page, MAX_FIELDS fields per form; MAX_MESSAGES console errors and as many exceptions,
MAX_FAILED_REQUESTS failed requests per page; MAX_OUTLINE headings in the structure's outline; MAX_SKIPPED
skipped URLs and MAX_NOTES notes per crawl.

Bytes (as stored: JSON with non-ASCII escaped, so six bytes per Cyrillic letter):

* MAX_PAGE_BYTES (160 KiB) per page record: past it, its links are dropped from the end, then its forms,
  failed requests, console errors, exceptions and form submissions, and the page names them in ``cut``.
  What is left (five URLs, title, heading, error...) takes at most 139 KiB even when every character of
  it is one JSON escapes to 12 bytes, so a page always fits;
* MAX_SKIPPED_BYTES (1 MiB) for the skip list: past it (or MAX_SKIPPED), skipped URLs are counted, not listed;
* MAX_CRAWL_BYTES (24 MiB) for a crawl's pages: 500 pages of 48 KB, a mega-menu on every page. Once the next
  page would pass it, the crawl stops: that page and every URL still queued are skipped as ``crawl_size``
  and a note says so (stored, pages past it are left out, with a note).

Sizes are counted as a list grows (entry_size: each entry and its ", "), two bytes over the truth.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_URL = 2048
MAX_TEXT = 300
MAX_TITLE = 500
MAX_MESSAGE = 500
MAX_WORD = 32
MAX_LINKS_READ = 2000
MAX_STORED_LINKS = 200
MAX_FORMS = 20
MAX_FIELDS = 50
MAX_MESSAGES = 20
MAX_FAILED_REQUESTS = 50
MAX_OUTLINE = 200
MAX_SUBMISSIONS = 3
MAX_SKIPPED = 2000
MAX_NOTES = 50
LAST_NOTES = 9  # of them, the last ones of the crawl (why it stopped)
MAX_PAGE_BYTES = 160 * 1024
MAX_SKIPPED_BYTES = 1024 * 1024
MAX_CRAWL_BYTES = 24 * 1024 * 1024
MAX_PAGES = 500  # a crawl's pages (settings.MAX_PAGES)

# The page's lists dropped, from the end and in this order, until the page fits MAX_PAGE_BYTES.
TRIMMED = ("links", "forms", "failedRequests", "consoleErrors", "exceptions", "formSubmissions")
ROOM = len(', "cut": ') + len(json.dumps(list(TRIMMED))) + 4 * len(TRIMMED)
VITALS = ("lcp", "cls", "ttfb", "fcp", "inp")
LANDMARKS = ("banner", "navigation", "main", "contentinfo", "complementary", "search", "form", "region")


def cut(value: Any, limit: int) -> str | None:
    """Return the string cut to `limit` characters; None for anything but a string."""
    return value[:limit] if isinstance(value, str) else None


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """Return the string cut to `limit` characters; "" for anything but a string."""
    return cut(value, limit) or ""


def at_cap(value: Any, limit: int) -> bool:
    """Tell whether a string may have been cut at `limit` (what it said after the cut is unknown)."""
    return isinstance(value, str) and len(value) >= limit


def number(value: Any) -> int | float | None:
    """Return a finite number as it is, anything else (a page can answer anything to a script) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def size(value: Any) -> int:
    """Return the bytes `value` takes as stored (SQLAlchemy's JSON: json.dumps, non-ASCII escaped)."""
    return len(json.dumps(value))


def entry_size(value: Any) -> int:
    """Return the bytes one more entry adds to a stored list: itself and its ", " (an empty list: 2)."""
    return size(value) + 2


def _strings(values: Any, limit: int, count: int) -> list[str]:
    return [
        value[:limit]
        for value in (values if isinstance(values, list) else [])[:count]
        if isinstance(value, str)
    ]


def _dicts(values: Any, count: int) -> list[dict]:
    return [
        value for value in (values if isinstance(values, list) else [])[:count] if isinstance(value, dict)
    ]


def _landmarks(values: Any) -> list[str]:
    """Return the known landmark roles among `values`, in the page's order."""
    return [role for role in dict.fromkeys(_strings(values, MAX_WORD, 50)) if role in LANDMARKS]


def form(raw: dict) -> dict:
    """Return a form as read in the page (structure.FACTS_SCRIPT), bounded."""
    fields = [
        {
            "label": text(f.get("label")),
            "placeholder": text(f.get("placeholder")),
            "type": text(f.get("type"), MAX_WORD),
            "name": text(f.get("name")),
            "required": f.get("required") is True,
        }
        for f in _dicts(raw.get("fields"), MAX_FIELDS)
    ]
    return {
        "name": text(raw.get("name")),
        "action": text(raw.get("action"), MAX_URL),
        "method": text(raw.get("method"), MAX_WORD),
        "fields": fields,
        "submit": cut(raw.get("submit"), MAX_TEXT),
    }


def form_cut(form: dict) -> str | None:
    """Name a text of the form that may have been cut (a destructive word past the cut is unknown), or None."""
    if at_cap(form.get("action"), MAX_URL):
        return "action"
    for key in ("name", "submit"):
        if at_cap(form.get(key), MAX_TEXT):
            return key
    for field in form.get("fields") or []:
        for key in ("label", "name"):
            if at_cap(field.get(key), MAX_TEXT):
                return f"field's {key}"
    return None


def facts(raw: Any) -> dict:
    """Return FACTS_SCRIPT's answer bounded and of its shape, whatever the page did to the script's builtins.

    Links are kept up to MAX_URL + 1 characters: the frontier refuses one too long by name."""
    raw = raw if isinstance(raw, dict) else {}
    interactive = raw.get("interactive") if isinstance(raw.get("interactive"), dict) else {}
    links = _strings(raw.get("links"), MAX_URL + 1, MAX_LINKS_READ)
    names = [
        value[:MAX_TEXT] if isinstance(value, str) else ""
        for value in (raw.get("linkNames") if isinstance(raw.get("linkNames"), list) else [])[: len(links)]
    ]
    return {
        "title": cut(raw.get("title"), MAX_TITLE),
        "heading": cut(raw.get("heading"), MAX_TITLE),
        "landmarks": _landmarks(raw.get("landmarks")),
        "outline": _strings(raw.get("outline"), MAX_WORD, MAX_OUTLINE),
        "forms": [form(f) for f in _dicts(raw.get("forms"), MAX_FORMS)],
        "links": links,
        "linkNames": names,
        "interactive": {key: number(interactive.get(key)) or 0 for key in ("buttons", "inputs", "links")},
    }


def _failed(raw: dict) -> dict:
    entry = {"url": text(raw.get("url"), MAX_URL), "status": number(raw.get("status"))}
    if "failure" in raw:
        entry["failure"] = cut(raw.get("failure"), MAX_MESSAGE)
    return entry


def _submission(raw: dict) -> dict:
    return {
        "form": cut(raw.get("form"), MAX_TEXT),
        "url": cut(raw.get("url"), MAX_URL),
        "status": number(raw.get("status")),
        "error": cut(raw.get("error"), MAX_MESSAGE),
    }


def page(raw: dict) -> dict:
    """Return a page record (visit.blank's keys) with every string cut, every list capped, within MAX_PAGE_BYTES."""
    links = [url for url in _strings(raw.get("links"), MAX_URL + 1, MAX_STORED_LINKS) if len(url) <= MAX_URL]
    names = raw.get("linkTexts") if isinstance(raw.get("linkTexts"), dict) else {}
    vitals = raw.get("vitals") if isinstance(raw.get("vitals"), dict) else {}
    record = {
        "url": text(raw.get("url"), MAX_URL),
        "requestedUrl": text(raw.get("requestedUrl"), MAX_URL),
        "path": text(raw.get("path"), MAX_URL),
        "status": number(raw.get("status")),
        "title": cut(raw.get("title"), MAX_TITLE),
        "heading": cut(raw.get("heading"), MAX_TITLE),
        "landmarks": _landmarks(raw.get("landmarks")),
        "forms": [form(f) for f in _dicts(raw.get("forms"), MAX_FORMS)],
        "links": links,
        "linkTexts": {url: names[url][:MAX_TEXT] for url in links if isinstance(names.get(url), str)},
        "consoleErrors": _strings(raw.get("consoleErrors"), MAX_MESSAGE, MAX_MESSAGES),
        "exceptions": _strings(raw.get("exceptions"), MAX_MESSAGE, MAX_MESSAGES),
        "failedRequests": [_failed(r) for r in _dicts(raw.get("failedRequests"), MAX_FAILED_REQUESTS)],
        "vitals": {name: number(vitals.get(name)) for name in VITALS},
        "depth": number(raw.get("depth")) or 0,
        "pattern": text(raw.get("pattern"), MAX_URL),
        "signature": cut(raw.get("signature"), 64),
        "source": text(raw.get("source"), MAX_WORD),
        "error": cut(raw.get("error"), MAX_MESSAGE),
        "parent": cut(raw.get("parent"), MAX_URL),
    }
    if "formSubmissions" in raw:
        record["formSubmissions"] = [_submission(s) for s in _dicts(raw["formSubmissions"], MAX_SUBMISSIONS)]
    earlier = [key for key in TRIMMED if key in _strings(raw.get("cut"), MAX_WORD, len(TRIMMED))]
    if earlier:  # bounded before (by the crawler, then again as it is stored): still says what was cut
        record["cut"] = earlier
    return fit(record)


def fit(record: dict, budget: int = MAX_PAGE_BYTES) -> dict:
    """Return the page within `budget` bytes: its TRIMMED lists, in order, cut from the end until it fits."""
    over = size(record) - budget
    if over <= 0:
        return record
    # Each entry is measured once (the record is not dumped again per try); ROOM covers the `cut` key and
    # the one separator an emptied list does not have.
    over += ROOM
    texts, trimmed = record["linkTexts"], list(record.get("cut") or [])
    for key in TRIMMED:
        entries = (record.get(key) or []) if over > 0 else []
        keep = len(entries)
        while keep and over > 0:
            keep -= 1
            over -= entry_size(entries[keep])
            if key == "links" and entries[keep] in texts:
                over -= size(entries[keep]) + size(texts[entries[keep]]) + 4  # its "url": "text", too
        if keep < len(entries):
            record[key] = entries[:keep]
            trimmed = [name for name in TRIMMED if name in trimmed or name == key]
    record["linkTexts"] = {url: texts[url] for url in record["links"] if url in texts}
    if trimmed:
        record["cut"] = trimmed
    return record


def skipped(entries: Any, budget: int = MAX_SKIPPED_BYTES) -> tuple[list[dict], int]:
    """Return the skip list bounded ({url, reason}), and how many entries were left out."""
    kept, used = [], 2
    entries = entries if isinstance(entries, list) else []
    for entry in _dicts(entries, MAX_SKIPPED):
        item = {"url": text(entry.get("url"), MAX_URL), "reason": text(entry.get("reason"), MAX_WORD)}
        used += entry_size(item)
        if used > budget:
            break
        kept.append(item)
    return kept, len(entries) - len(kept)


def notes(values: Any) -> list[str]:
    """Return at most MAX_NOTES notes: the first and the last ones (why the crawl stopped), and one between."""
    values = [
        value[:MAX_MESSAGE]
        for value in (values if isinstance(values, list) else [])
        if isinstance(value, str)
    ]
    if len(values) <= MAX_NOTES:
        return values
    head = MAX_NOTES - 1 - LAST_NOTES
    return [
        *values[:head],
        f"{len(values) - head - LAST_NOTES} more notes not kept (at most {MAX_NOTES} are)",
        *values[-LAST_NOTES:],
    ]


def outcome(raw: dict, max_bytes: int = MAX_CRAWL_BYTES) -> dict:
    """Return a crawl's outcome as it is stored: its pages, skips and notes bounded, a note of what was left
    out, and `allListed`: nothing was."""
    pages, total = [], 2
    records = _dicts(raw.get("pages"), MAX_PAGES)
    for record in records:
        record = page(record)
        total += entry_size(record)
        if total > max_bytes:
            break
        pages.append(record)
    kept, unlisted = skipped(raw.get("skipped"))
    extra = []
    if len(pages) < len(records):
        extra.append(
            f"{len(records) - len(pages)} page(s) not kept: a crawl's pages take at most {megabytes(max_bytes)}"
        )
    if unlisted:
        extra.append(
            f"{unlisted} more skipped URL(s) not listed: the list takes at most {megabytes(MAX_SKIPPED_BYTES)}"
        )
    given = raw.get("notes") if isinstance(raw.get("notes"), list) else []
    # Whether every page visited and every URL refused is still listed: what the diff may call removed.
    listed = raw.get("allListed", True) is True and not unlisted and len(pages) == len(records)
    return {**raw, "pages": pages, "skipped": kept, "notes": notes([*given, *extra]), "allListed": listed}


def megabytes(count: int) -> str:
    """Return a size in bytes as people say it: "24 MB", "64 KB"."""
    return f"{count / 1024**2:g} MB" if count >= 1024**2 else f"{count / 1024:g} KB"
