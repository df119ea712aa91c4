"""What a crawled page is made of, read in the page in one evaluate: its title and heading, landmarks,
forms (with each field's accessible label), links and interactive elements; and a signature of its
structure that leaves every text out, so two pages of one template sign alike.

The script cuts every text and list to the crawl's limits (limits.py) before it answers, so a page's
megabytes never cross into Python; what it answers is bounded again there (limits.facts), since the page
can have replaced the builtins the script calls."""

from __future__ import annotations

import asyncio
import hashlib
import json

from . import limits

# Submit-capable controls, in the order the browser picks the default one; shared with the form filler.
SUBMIT_SELECTOR = "button[type=submit], button:not([type]), input[type=submit], input[type=image]"
FIELD_SELECTOR = (
    "input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset])"
    ":not([type=image]), textarea, select"
)
# What the script is told (limits.py says why each).
CAPS = {
    "url": limits.MAX_URL,
    "text": limits.MAX_TEXT,
    "title": limits.MAX_TITLE,
    "word": limits.MAX_WORD,
    "links": limits.MAX_LINKS_READ,
    "forms": limits.MAX_FORMS,
    "fields": limits.MAX_FIELDS,
    "outline": limits.MAX_OUTLINE,
}
READ_SECONDS = 5.0  # one evaluate over the DOM; a page that keeps its main thread busy is given up on

FACTS_SCRIPT = """
([submitSelector, fieldSelector, caps]) => {
  const clean = (text) => (text || "").replace(/\\s+/g, " ").trim();
  const cut = (text, limit) => (typeof text === "string" && text.length > limit ? text.slice(0, limit) : text);
  const short = (text) => cut(text, caps.text);
  // A URL is cut one past its cap: Python refuses it as too long instead of following a wrong one.
  const url = (text) => cut(text, caps.url + 1);
  const textOf = (node) => {
    if (!node) return "";
    const copy = node.cloneNode(true);
    copy.querySelectorAll("input, select, textarea, script, style").forEach((n) => n.remove());
    return clean(copy.textContent);
  };
  const byIds = (el) => clean((el.getAttribute("aria-labelledby") || "").split(/\\s+/)
    .map((id) => textOf(document.getElementById(id))).join(" "));
  const label = (el) => {
    const named = byIds(el) || clean(el.getAttribute("aria-label"));
    if (named) return named;
    if (el.id) {
      const forIt = document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
      if (forIt && textOf(forIt)) return textOf(forIt);
    }
    const wrapping = el.closest("label");
    if (wrapping && textOf(wrapping)) return textOf(wrapping);
    return "";  // a title or placeholder is no label: get_by_label would not find the field by it
  };
  const linkName = (a) => byIds(a) || clean(a.getAttribute("aria-label")) || clean(a.innerText || a.textContent)
    || clean(a.getAttribute("title"));
  const buttonName = (el) => {
    const named = byIds(el) || clean(el.getAttribute("aria-label"));
    if (named) return named;
    if (el.tagName === "INPUT") return clean(el.value || el.getAttribute("alt")) || "Submit";
    return clean(el.textContent) || clean(el.getAttribute("title"));
  };
  const landmarkOf = (el) => {
    const explicit = (el.getAttribute("role") || "").split(/\\s+/)[0];
    if (explicit) return explicit;
    const tag = el.tagName.toLowerCase();
    const sectioned = el.parentElement && el.parentElement.closest("article, aside, main, nav, section");
    const named = byIds(el) || clean(el.getAttribute("aria-label"));
    if (tag === "header") return sectioned ? "" : "banner";
    if (tag === "footer") return sectioned ? "" : "contentinfo";
    return {nav: "navigation", main: "main", aside: "complementary", search: "search",
            form: named ? "form" : "", section: named ? "region" : ""}[tag] || "";
  };
  const LANDMARKS = new Set(["banner", "navigation", "main", "contentinfo", "complementary", "search",
                             "form", "region"]);
  const landmarks = [];
  document.querySelectorAll("header, footer, nav, main, aside, search, form, section, [role]").forEach((el) => {
    const role = landmarkOf(el);
    if (LANDMARKS.has(role) && !landmarks.includes(role)) landmarks.push(role);
  });
  const headings = Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"));
  const first = headings.find((h) => h.tagName === "H1") || headings.find((h) => h.tagName === "H2");
  const forms = Array.from(document.forms).slice(0, caps.forms).map((form) => {
    const legend = form.querySelector("legend");
    const heading = form.querySelector("h1, h2, h3, h4, h5, h6");
    const submit = form.querySelector(submitSelector);
    return {
      name: short(byIds(form) || clean(form.getAttribute("aria-label")) || clean(form.getAttribute("name"))
        || clean(form.id) || textOf(legend) || textOf(heading)),
      action: url(form.action),
      method: cut((form.getAttribute("method") || "get").toLowerCase(), caps.word),
      fields: Array.from(form.querySelectorAll(fieldSelector)).slice(0, caps.fields).map((el) => ({
        label: short(label(el)),
        placeholder: short(clean(el.getAttribute("placeholder"))),
        type: cut(el.tagName === "INPUT" ? (el.type || "text").toLowerCase() : el.tagName.toLowerCase(), caps.word),
        name: short(el.getAttribute("name") || ""),
        required: el.required,
      })),
      submit: submit ? short(buttonName(submit)) : null,
    };
  });
  const anchors = Array.from(document.querySelectorAll("a[href]"));
  const read = anchors.slice(0, caps.links);
  return {
    title: cut(document.title, caps.title),
    heading: first ? cut(clean(first.textContent), caps.title) : null,
    landmarks,
    outline: headings.slice(0, caps.outline).map((h) => h.tagName.toLowerCase()),
    forms,
    links: read.map((a) => url(a.href)),
    linkNames: read.map((a) => short(linkName(a))),
    interactive: {
      buttons: document.querySelectorAll("button, input[type=submit], input[type=button], input[type=reset], "
                                         + "input[type=image], [role=button]").length,
      inputs: document.querySelectorAll(fieldSelector).length,
      links: anchors.length,
    },
  };
}
"""


async def read_facts(page) -> dict:
    """Evaluate FACTS_SCRIPT in the page's main frame; return its answer bounded (limits.facts). Bounded in time
    too, by READ_SECONDS (TimeoutError past it: a page busy in a loop of its own never answers)."""
    async with asyncio.timeout(READ_SECONDS):
        return limits.facts(await page.evaluate(FACTS_SCRIPT, [SUBMIT_SELECTOR, FIELD_SELECTOR, CAPS]))


def signature(facts: dict) -> str:
    """Return the sha256 of the page's structure: landmarks, heading outline, form shapes and counts of
    interactive elements; no text, so pages of one template with other words sign alike."""
    shape = {
        "landmarks": sorted(set(facts.get("landmarks") or [])),
        "outline": facts.get("outline") or [],
        "forms": [
            {
                "method": form.get("method"),
                "fields": [field.get("type") for field in form.get("fields", [])],
                "submit": form.get("submit") is not None,
            }
            for form in facts.get("forms") or []
        ],
        "interactive": facts.get("interactive") or {},
    }
    canonical = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
