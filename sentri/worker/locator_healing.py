"""Healing locators: find a step's element again when its recorded target no longer matches it.

During a passing run the runner records, right before each step acts, other descriptions of the
element the step's target matched (its role and name, label, test id, text, a CSS path). When the
target later matches nothing — or more elements than it may — those descriptions are tried as
targets. Only when every one that matches exactly one element points to the same element does the
step go on with a new target; a person then reviews the proposal. Healing changes a target,
never what a step expects (text, value, url, title): a changed expectation is a regression.
Every description that matches takes part in that agreement, but only one review/heal_rules.py allows
becomes the new target: never a count read from the page, never an assertion's own text, only a CSS
path for an assertion that picks its element by position. When the descriptions agree and none is
allowed, the heal is refused with a sentence saying why (HealRefused).

Nothing here waits: describing is one `evaluate_all` round trip, and healing only counts matches,
so a page that is still loading is never mistaken for a changed one by a slow retry loop here.

A description is page text: a value over review/hints.MAX_HINT_CHARS is left out, both in the page (so a
1 MB test id does not travel back) and here (the page's own scripts could change what the first returns).
"""

from __future__ import annotations

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from ..aria_roles import ROLES
from ..review.heal_rules import Rules
from ..review.hints import MAX_HINT_CHARS, clean
from .steps import locate

# Runs in the page on the elements a locator matches; describes the element when there is exactly one.
# `text` follows Playwright's get_by_text (textContent, so <br> adds nothing) and is left out when a
# child holds the whole text, since get_by_text would then match the child instead of this element.
DESCRIBE_SCRIPT = """(elements, maxChars) => {
  if (elements.length !== 1) return null;
  const el = elements[0];
  const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
  const tag = el.tagName.toLowerCase();
  const type = (el.getAttribute("type") || "text").toLowerCase();
  const FROM_CONTENT = ["button", "cell", "checkbox", "columnheader", "gridcell", "heading", "link",
    "menuitem", "menuitemcheckbox", "menuitemradio", "option", "radio", "row", "rowheader", "switch",
    "tab", "tooltip", "treeitem"];
  const TEXT_INPUTS = ["text", "email", "tel", "url"];
  const BY_TAG = {button: "button", textarea: "textbox", h1: "heading", h2: "heading", h3: "heading",
    h4: "heading", h5: "heading", h6: "heading", nav: "navigation", main: "main", ul: "list",
    ol: "list", li: "listitem", table: "table", tr: "row", td: "cell", th: "columnheader",
    option: "option", dialog: "dialog", progress: "progressbar", p: "paragraph"};
  const BY_TYPE = {checkbox: "checkbox", radio: "radio", number: "spinbutton", range: "slider",
    search: "searchbox", button: "button", submit: "button", reset: "button", image: "button"};

  const implicitRole = () => {
    if ((tag === "a" || tag === "area") && el.hasAttribute("href")) return "link";
    if (tag === "img") return el.getAttribute("alt") === "" ? null : "img";
    if (tag === "select") return el.multiple || el.size > 1 ? "listbox" : "combobox";
    if (tag === "input") {
      if (TEXT_INPUTS.includes(type)) return el.hasAttribute("list") ? "combobox" : "textbox";
      return BY_TYPE[type] || null;  // password, hidden, file, date...: no role get_by_role knows
    }
    return BY_TAG[tag] || null;
  };
  const explicit = norm(el.getAttribute("role")).split(" ")[0];
  const role = explicit || implicitRole();

  const labelText = () => {
    if (!el.labels || !el.labels.length) return null;
    return norm([...el.labels].map((label) => {
      const copy = label.cloneNode(true);  // a wrapping label holds the control: leave its text out
      copy.querySelectorAll("input, select, textarea, button").forEach((c) => c.remove());
      return copy.textContent;
    }).join(" ")) || null;
  };
  const label = labelText();

  const accessibleName = () => {
    const ids = norm(el.getAttribute("aria-labelledby"));
    if (ids) {
      const text = norm(ids.split(" ").map((id) => {
        const ref = document.getElementById(id);
        return ref ? ref.textContent : "";
      }).join(" "));
      if (text) return text;
    }
    const candidates = [el.getAttribute("aria-label"), label];
    if (tag === "img" || (tag === "input" && type === "image")) candidates.push(el.getAttribute("alt"));
    if (tag === "input" && ["button", "submit", "reset"].includes(type)) candidates.push(el.value);
    if (FROM_CONTENT.includes(role)) candidates.push(el.innerText);
    candidates.push(el.getAttribute("title"));
    if (tag === "input" || tag === "textarea") candidates.push(el.getAttribute("placeholder"));
    for (const c of candidates) if (norm(c)) return norm(c);
    return null;
  };
  const name = accessibleName();

  const ownText = () => {
    const text = norm(el.textContent);
    if (text.length < 1 || text.length > 80) return null;
    return [...el.children].some((child) => norm(child.textContent) === text) ? null : text;
  };

  const unique = (selector) => {
    try {
      const found = document.querySelectorAll(selector);
      return found.length === 1 && found[0] === el;
    } catch (e) { return false; }
  };
  const stable = (word) => word && !/\\d{3,}/.test(word);  // a run of digits looks generated
  const goodId = (node) => stable(node.id) && document.querySelectorAll("#" + CSS.escape(node.id)).length === 1;
  const segment = (node) => {
    const classes = [...node.classList].filter(stable).map((c) => "." + CSS.escape(c)).join("");
    const simple = node.tagName.toLowerCase() + classes;
    const parent = node.parentElement;
    if (!parent) return simple;
    const same = [...parent.children].filter((s) => s.tagName === node.tagName);
    if (same.filter((s) => s.matches(simple)).length < 2) return simple;
    return simple + ":nth-of-type(" + (same.indexOf(node) + 1) + ")";
  };
  const cssPath = () => {
    if (goodId(el)) return "#" + CSS.escape(el.id);
    const parts = [];
    let node = el;
    for (let level = 0; level <= 5 && node && node !== document.documentElement; level++) {
      if (level > 0 && goodId(node)) {
        parts.unshift("#" + CSS.escape(node.id));
        return unique(parts.join(" > ")) ? parts.join(" > ") : null;
      }
      parts.unshift(segment(node));
      if (unique(parts.join(" > "))) return parts.join(" > ");
      node = node.parentElement;
    }
    return null;
  };

  const found = {role, name: name && name.length <= 100 ? name : null, label, text: ownText(),
    testid: el.getAttribute("data-testid"), placeholder: el.getAttribute("placeholder"), css: cssPath()};
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v && v.length <= maxChars));
}"""

# Actions whose target must match an element for the step to succeed. expect_hidden is not here: a
# target that matches nothing is its success, so a "healed" target could only turn a pass into a fail.
# Nor is expect_screenshot: its target fails as a screenshot does, not as a locator (a heal of a target it
# shares with these steps still follows its rules: review/heal_rules.py).
HEALABLE_ACTIONS = frozenset(
    {
        "click",
        "dblclick",
        "hover",
        "fill",
        "select",
        "check",
        "uncheck",
        "press",
        "expect_visible",
        "expect_text",
    }
)


async def describe(locator: Locator) -> dict | None:
    """Describe the one element the locator matches now, or None; one round trip, no waiting."""
    try:
        return clean(await locator.evaluate_all(DESCRIBE_SCRIPT, MAX_HINT_CHARS)) or None
    except PlaywrightError:
        return None


def _bare(target: dict) -> dict:
    return {key: value for key, value in target.items() if key not in ("nth", "exact")}


def candidates(hints: dict, old: dict) -> list[dict]:
    """Turn a recorded description into targets, most trusted first, leaving out the old target."""
    hints = clean(hints)  # hints stored before the limit may hold a value too long to be a locator
    found = []
    if hints.get("testid"):
        found.append({"testid": hints["testid"]})
    if hints.get("role") in ROLES and hints.get("name"):
        found.append({"role": hints["role"], "name": hints["name"], "exact": True})
    for key in ("label", "placeholder", "text"):
        if hints.get(key):
            found.append({key: hints[key], "exact": True})
    if hints.get("css"):
        found.append({"css": hints["css"]})
    return [target for target in found if _bare(target) != _bare(old)]


async def _unique_matches(page: Page, targets: list[dict]) -> list[tuple[dict, Locator]]:
    """Return the targets that match exactly one element now; one that cannot be evaluated matches none."""
    matches = []
    for target in targets:
        locator = locate(page, target)
        try:
            if await locator.count() == 1:
                matches.append((target, locator))
        except PlaywrightError:
            continue
    return matches


class HealRefused(Exception):
    """The descriptions agree on one element, but none may become the target; str() is the sentence why."""


async def heal(page: Page, hints: dict | None, old: dict, rules: Rules | None = None) -> dict | None:
    """Return a target for the element the hints describe when the candidates agree on one element and
    `rules` allow one of them, else None; raise HealRefused when they agree and the rules allow none."""
    if not hints:
        return None
    try:
        # A short timeout can expire before a present element resolves; then there is nothing to heal.
        if await locate(page, old).count() == 1:
            return None
    except PlaywrightError:
        pass  # an old target the page cannot evaluate (a selector it now rejects) is what healing is for
    matches = await _unique_matches(page, candidates(hints, old))
    if not matches:
        return None
    (_, first), others = matches[0], matches[1:]
    try:
        # `and_` matches what both match: a count of 1 means the same element, without handles or waiting.
        for _, locator in others:
            if await first.and_(locator).count() != 1:
                return None
    except PlaywrightError:
        return None
    found, rules = [target for target, _ in matches], rules or Rules()
    for target in rules.ranked(found):
        if rules.refusal(target) is None:
            return target
    raise HealRefused(rules.refusal_sentence(found[0]))


def heal_allowed(step: dict) -> bool:
    """Tell whether a step's target may be replaced when it matches nothing or too many elements."""
    return step.get("action") in HEALABLE_ACTIONS and bool(step.get("target"))


def is_locator_failure(message: str) -> bool:
    """Tell whether a Playwright error says the target matched nothing or too many elements.

    What Playwright 1.65 says (the test provokes each):
    - too many, for actions and assertions alike: "strict mode violation: locator("button") resolved
      to 2 elements".
    - nothing, for an assertion (to_be_visible, to_contain_text): "Error: element(s) not found".
    - nothing, for an action (click, fill, hover, ...): "Locator.click: Timeout 300ms exceeded." with a
      call log that ends at "- waiting for locator("#nope")"; when the element was found but could
      not be used (hidden, disabled) the log goes on with "- locator resolved to <button ...>".
    - an assertion whose element exists but whose value differs: "Actual value: hello" and
      "- unexpected value "hello"", with neither phrase above: an expectation failing, never healed.
    The action rule reads the call log, so pass the whole message, not its first lines. A timeout too
    short for the element to resolve reads as "nothing"; heal() checks the old target first for that.
    """
    if "strict mode violation" in message or "element(s) not found" in message:
        return True
    timed_out = "Timeout" in message and "exceeded" in message
    return timed_out and "waiting for" in message and "resolved to" not in message
