"""What a crawled page is made of, read in the page in one evaluate: its title and heading, landmarks,
forms (with each field's accessible label), links and interactive elements; and a signature of its
structure that leaves every text out, so two pages of one template sign alike."""

from __future__ import annotations

import asyncio
import hashlib
import json

# Submit-capable controls, in the order the browser picks the default one; shared with the form filler.
SUBMIT_SELECTOR = "button[type=submit], button:not([type]), input[type=submit], input[type=image]"
FIELD_SELECTOR = ("input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset])"
                  ":not([type=image]), textarea, select")
MAX_LINKS = 2000
MAX_OUTLINE = 200
READ_SECONDS = 5.0  # one evaluate over the DOM; a page that keeps its main thread busy is given up on

FACTS_SCRIPT = """
([submitSelector, fieldSelector, maxLinks, maxOutline]) => {
  const clean = (text) => (text || "").replace(/\\s+/g, " ").trim();
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
  const forms = Array.from(document.forms).map((form) => {
    const legend = form.querySelector("legend");
    const heading = form.querySelector("h1, h2, h3, h4, h5, h6");
    const submit = form.querySelector(submitSelector);
    return {
      name: byIds(form) || clean(form.getAttribute("aria-label")) || clean(form.getAttribute("name"))
        || clean(form.id) || textOf(legend) || textOf(heading),
      action: form.action,
      method: (form.getAttribute("method") || "get").toLowerCase(),
      fields: Array.from(form.querySelectorAll(fieldSelector)).map((el) => ({
        label: label(el),
        placeholder: clean(el.getAttribute("placeholder")),
        type: el.tagName === "INPUT" ? (el.type || "text").toLowerCase() : el.tagName.toLowerCase(),
        name: el.getAttribute("name") || "",
        required: el.required,
      })),
      submit: submit ? buttonName(submit) : null,
    };
  });
  const anchors = Array.from(document.querySelectorAll("a[href]"));
  return {
    title: document.title,
    heading: first ? clean(first.textContent) : null,
    landmarks,
    outline: headings.slice(0, maxOutline).map((h) => h.tagName.toLowerCase()),
    forms,
    links: anchors.slice(0, maxLinks).map((a) => a.href),
    linkNames: anchors.slice(0, maxLinks).map(linkName),
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
    """Evaluate FACTS_SCRIPT in the page's main frame, bounded by READ_SECONDS (TimeoutError past it: a page
    busy in a loop of its own never answers)."""
    async with asyncio.timeout(READ_SECONDS):
        return await page.evaluate(FACTS_SCRIPT, [SUBMIT_SELECTOR, FIELD_SELECTOR, MAX_LINKS, MAX_OUTLINE])


def signature(facts: dict) -> str:
    """Return the sha256 of the page's structure: landmarks, heading outline, form shapes and counts of
    interactive elements; no text, so pages of one template with other words sign alike."""
    shape = {
        "landmarks": sorted(set(facts.get("landmarks") or [])),
        "outline": facts.get("outline") or [],
        "forms": [{"method": form.get("method"), "fields": [field.get("type") for field in form.get("fields", [])],
                   "submit": form.get("submit") is not None} for form in facts.get("forms") or []],
        "interactive": facts.get("interactive") or {},
    }
    canonical = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
