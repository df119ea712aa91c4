"""Draft tests from a crawl: each perspective turns crawled pages into tests a person then reviews.

A draft only asserts what the crawler saw (a title, a heading, a label are texts the page really had),
uses paths instead of full URLs so that it follows a run's baseUrl override, and is deterministic:
the same pages give the same drafts in the same order (by page pattern, then perspective).

The page dicts are the crawler's (sentri/crawl/crawler.py). The `full_journey` perspective also needs
`linkTexts` on each page: ``{url: accessible name}`` of the first link on that page to each URL in its
`links` (same normalisation as `links`; a link that redirected should also be keyed by the final URL of
the page it led to, since that is the `url` a crawled page has). A page without it, or a hop whose link
text is missing, simply gets no journey.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin, urlsplit

from sentri.aria_roles import ROLES
from sentri.errors import ValidationFailed
from sentri.testformat import TestFormatError, validate_steps

from . import limits

PERSPECTIVES: dict[str, str] = {
    "page": "one draft per page pattern: it opens, with its title, main heading, landmarks and form fields",
    "single_component": "one draft per form: the page opens and the form's labelled fields and button show",
    "full_journey": "one draft per page pattern: reach it from the home page by clicking links, hop by hop",
    "form_journey": "one draft per harmless form (only with fillForms): fill it with test data and send it",
}
MAX_TEXT = 200  # below limits.MAX_TEXT, so a text the crawl cut is never taken for a whole one
# Roles a page has at most once (a page's own header, main and footer); others may repeat, so nth: 0.
UNIQUE_LANDMARKS = {"banner", "main", "contentinfo"}
# A form whose name, action, button or fields mention one of these is never filled in and sent.
DESTRUCTIVE = (
    "delete",
    "remove",
    "destroy",
    "cancel",
    "unsubscribe",
    "logout",
    "log out",
    "sign out",
    "signout",
    "deactivate",
    "close account",
    "purge",
    "drop",
    "reset",
    "erase",
)
UNSAFE_FIELDS = {"password", "file"}
# Harmless data per field type; a type not here (select, radio, ...) is left alone.
FILL_VALUES = {
    "text": "Sentri test",
    "search": "Sentri test",
    "textarea": "Sentri test",
    "email": "sentri@example.com",
    "number": "1",
    "range": "1",
    "tel": "1",
    "url": "https://example.com/",
    "date": "2024-01-01",
    "time": "12:00",
    "datetime-local": "2024-01-01T12:00",
    "month": "2024-01",
    "week": "2024-W01",
}
NOT_SHOWN = {"hidden", "submit", "button", "reset", "image"}


def parse_perspectives(value) -> list[str]:
    """Return the perspective names asked for (None: just "page"); raise ValidationFailed on any other."""
    if value is None:
        return ["page"]
    field = "dialsConfig.perspectives"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed.on(
            field, f"must be a list of perspective names (known: {', '.join(PERSPECTIVES)})"
        )
    for name in value:
        if name not in PERSPECTIVES:
            raise ValidationFailed.on(
                field, f'unknown perspective "{name}" (known: {", ".join(PERSPECTIVES)})'
            )
    return list(dict.fromkeys(value))


def make_drafts(
    pages, *, perspectives, fill_forms=False, limit=None, existing=(), base_url=None
) -> list[dict]:
    """Return the drafts the perspectives make from crawled pages, minus those already among `existing`.

    `existing` holds existing tests' step lists; a draft with the same steps is not made again, so a second
    crawl of an unchanged site makes nothing new. `limit` caps how many are returned. `base_url` (the
    crawl's start URL) makes paths relative to its path, as a run joins them onto its base URL."""
    chosen = parse_perspectives(perspectives)
    by_url = {page["url"]: page for page in pages if _loaded(page)}
    base = _Base(base_url)
    patterns: dict[str, dict] = {}
    for page in sorted(by_url.values(), key=lambda p: (p.get("depth") or 0, p["url"])):
        if base.path(page["url"]) is not None:
            patterns.setdefault(page.get("pattern") or page.get("path") or "/", page)
    seen = {_dump(steps) for steps in (_canonical(s) for s in existing) if steps is not None}
    forms_seen: set[str] = set()
    drafts: list[dict] = []
    for pattern in sorted(patterns):
        page = patterns[pattern]
        path = base.path(page["url"])
        fresh = []  # a form on every page (a search box) is drafted once, where it is first seen
        for index, form in enumerate(page.get("forms") or []):
            key = _dump([form.get(k) for k in ("name", "action", "method", "fields", "submit")])
            if key not in forms_seen:
                forms_seen.add(key)
                fresh.append(index)
        made = {
            "page": [_page_draft(page, path)],
            "single_component": [_form_draft(page, path, i) for i in fresh],
            "full_journey": [_journey_draft(page, by_url, base)],
            "form_journey": [_fill_draft(page, path, i, base) for i in fresh] if fill_forms else [],
        }
        for name, draft in [(n, d) for n in PERSPECTIVES if n in chosen for d in made[n] if d]:
            steps = _canonical(draft["steps"], strict=True)
            if steps is not None and _dump(steps) not in seen:
                seen.add(_dump(steps))
                drafts.append(
                    {
                        "name": _cap(draft["name"]),
                        "tags": ["generated", "crawl", name],
                        "steps": steps,
                        "sourcePage": page["url"],
                        "perspective": name,
                    }
                )
    return drafts if limit is None else drafts[: max(limit, 0)]


# -- the perspectives -------------------------------------------------------------------------------


def _page_draft(page: dict, path: str) -> dict | None:
    """Open the page and check its title, main heading, landmarks and the fields of its forms."""
    steps = [{"action": "goto", "url": path}, *_title_and_heading(page)]
    for role in [r for r in page.get("landmarks") or [] if r in ROLES]:
        steps.append(_visible({"role": role} if role in UNIQUE_LANDMARKS else {"role": role, "nth": 0}))
    for fields, submit in _locators(page):
        steps += [_visible(t) for t in (*fields, submit) if t]
    if len(steps) == 1:  # nothing seen to check: a bare goto passes on a 404 too
        return None
    return {"name": f"Page {_cap(path, 100)}: title, heading and landmarks", "steps": steps}


def _form_draft(page: dict, path: str, index: int) -> dict | None:
    """Open the page and check that one form's labelled fields and its button show."""
    fields, submit = _locators(page)[index]
    checks = [_visible(t) for t in (*fields, submit) if t]
    if not checks:
        return None
    return {
        "name": f"Form {_form_name(page, index)} on {_cap(path, 100)}",
        "steps": [{"action": "goto", "url": path}, *checks],
    }


def _journey_draft(page: dict, by_url: dict[str, dict], base: _Base) -> dict | None:
    """Reach the page from the start page by clicking the link each page followed to the next."""
    hops, current = [], page
    while current.get("parent"):
        parent = by_url.get(current["parent"])
        if parent is None or parent is page or len(hops) >= 20 or base.path(parent["url"]) is None:
            return None
        raw = (parent.get("linkTexts") or {}).get(current["url"])
        if not _clean(raw) or _ambiguous_link(parent, current["url"], _clean(raw)):
            return None
        hops.append((raw, base.path(current["url"])))
        current = parent
    if not hops:  # a start page is where every journey begins, not a journey
        return None
    path = base.path(page["url"])
    steps = [{"action": "goto", "url": base.path(current["url"])}]
    for text, hop_path in reversed(hops):
        # nth 0: a page often links to the same place twice (menu and footer); the first is the one seen.
        steps.append({"action": "click", "target": {**_named("link", text), "nth": 0}})
        steps.append({"action": "expect_url", "url": hop_path})
    steps += [s for s in _title_and_heading(page) if s["action"] != "expect_title"]
    return {"name": f"Journey to {_cap(path, 100)} from the home page", "steps": steps}


def _fill_draft(page: dict, path: str, index: int, base: _Base) -> dict | None:
    """Fill a harmless form with test data, send it and check where it leads (when that is on the site)."""
    form = page["forms"][index]
    fields, (targets, submit) = form.get("fields") or [], _locators(page)[index]
    words = " ".join(
        [
            form.get("name") or "",
            form.get("action") or "",
            form.get("submit") or "",
            *(f"{f.get('label') or ''} {f.get('name') or ''}" for f in fields),
        ]
    )
    if (
        not submit
        or _destructive(words)
        or any(f.get("type") in UNSAFE_FIELDS for f in fields)
        or limits.form_cut(form)
    ):
        return None
    steps = [{"action": "goto", "url": path}]
    for field, target in zip(fields, targets, strict=True):
        kind = field.get("type") or "text"
        if kind == "checkbox" and field.get("required") and target:
            steps.append({"action": "check", "target": target})
        elif kind in FILL_VALUES and target:
            steps.append({"action": "fill", "target": target, "value": FILL_VALUES[kind]})
        elif field.get("required"):  # a required field it cannot fill would stop the form being sent
            return None
    steps.append({"action": "click", "target": submit})
    action = urljoin(page["url"], form.get("action") or page["url"])
    if urlsplit(action).netloc == urlsplit(page["url"]).netloc and (to := base.path(action)) is not None:
        steps.append({"action": "expect_url", "url": urlsplit(to).path or "/"})
    return {"name": f"Fill and send form {_form_name(page, index)} on {_cap(path, 100)}", "steps": steps}


# -- pieces ------------------------------------------------------------------------------------------


class _Base:
    """The crawl's base URL: page URLs become paths a run joins onto its own base URL."""

    def __init__(self, base_url: str | None) -> None:
        parts = urlsplit(base_url or "")
        self.netloc = parts.netloc.lower()
        self.prefix = parts.path.rstrip("/")

    def path(self, url: str) -> str | None:
        """Return the URL as a path on the base (with its query), or None when it is not under it."""
        parts = urlsplit(url)
        if self.netloc and parts.netloc.lower() != self.netloc:
            return None
        path = parts.path or "/"
        if self.prefix:
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                return None
            path = path[len(self.prefix) :] or "/"
        return path + (f"?{parts.query}" if parts.query else "")


def _loaded(page: dict) -> bool:
    status = page.get("status")
    return bool(page.get("url")) and not page.get("error") and (status is None or status < 400)


def _title_and_heading(page: dict) -> list[dict]:
    steps = []
    if title := _clean(page.get("title")):
        steps.append({"action": "expect_title", "title": title})
    if _clean(page.get("heading")):
        steps.append(_visible(_named("heading", page["heading"])))
    return steps


def _locators(page: dict) -> list[tuple[list[dict | None], dict | None]]:
    """Each form's field targets (None: no label) and button target, told apart from the page's others.

    A label inside another ("Name", "Last name") is matched exactly; a name used twice gets its `nth`."""
    labels, buttons = [], []
    for form in page.get("forms") or []:
        labels.append(
            [f.get("label") if f.get("type") not in NOT_SHOWN else "" for f in form.get("fields") or []]
        )
        buttons.append(_clean(form.get("submit")))
    every_label = [_clean(label) for row in labels for label in row if _clean(label)]
    out, seen_labels, seen_buttons = [], [], []
    for row, button in zip(labels, buttons, strict=True):
        targets = []
        for raw in row:
            target, label = None, _clean(raw)
            if label:
                target = {"label": label}
                if _whole(raw) and any(
                    label.lower() in other.lower() and other != label for other in every_label
                ):
                    target["exact"] = True
                target = _nth(target, seen_labels.count(label), every_label.count(label))
                seen_labels.append(label)
            targets.append(target)
        submit = None
        if button:
            whole = _named("button", page["forms"][len(out)]["submit"])
            submit = _nth(whole, seen_buttons.count(button), buttons.count(button))
            seen_buttons.append(button)
        out.append((targets, submit))
    return out


def _nth(target: dict, before: int, total: int) -> dict:
    return {**target, "nth": before} if total > 1 else target


def _named(role: str, raw: str) -> dict:
    # Playwright matches names as case-insensitive substrings: "Blog" would also find "Blog archive"
    # and fail as ambiguous. A whole name seen on the page is matched exactly; a capped one cannot be.
    return {"role": role, "name": _clean(raw), **({"exact": True} if _whole(raw) else {})}


def _ambiguous_link(page: dict, url: str, text: str) -> bool:
    """Whether a link before the one to `url` has the same name (the click would follow that one)."""
    texts = page.get("linkTexts") or {}
    for other in page.get("links") or []:
        if other == url:
            return False
        if _clean(texts.get(other)) == text:
            return True
    return False


def _visible(target: dict) -> dict:
    return {"action": "expect_visible", "target": target}


def _form_name(page: dict, index: int) -> str:
    form = page["forms"][index]
    return _clean(form.get("name"), 60) or _clean(form.get("submit"), 60) or f"#{index + 1}"


def _destructive(text: str) -> bool:
    squeezed = re.sub(r"[\s_\-./]+", "", text.lower())
    return any(word.replace(" ", "") in squeezed for word in DESTRUCTIVE)


def _clean(text, cap: int = MAX_TEXT) -> str:
    """Trim and collapse whitespace and cap the length: what is left is still a substring of the page's."""
    if not isinstance(text, str):
        return ""
    return re.sub(r"\s+", " ", text).strip()[:cap].strip()


def _whole(text) -> bool:
    """Whether the text is short enough to be kept whole by _clean."""
    return isinstance(text, str) and len(" ".join(text.split())) <= MAX_TEXT


def _cap(text: str, cap: int = MAX_TEXT) -> str:
    return text if len(text) <= cap else text[: cap - 3] + "..."


def _canonical(steps, strict: bool = False) -> list | None:
    """Return steps in canonical form; one that does not validate is None (strict) or compared as it is."""
    try:
        return validate_steps(steps)
    except TestFormatError:  # a strange page (a path starting with //) makes no draft rather than an error
        return None if strict or not isinstance(steps, list) else steps


def _dump(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
