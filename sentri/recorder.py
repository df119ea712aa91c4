"""Convert Chrome DevTools Recorder exports (@puppeteer/replay user flows) into Sentri tests.

Mapping rules (recorded step -> Sentri step), steps numbered from 1 as in the recording:

- navigate -> goto (URL kept as recorded, ``<test-port>`` and all); setViewport -> the test's
  viewport, no step. click / doubleClick / hover -> click / dblclick / hover; click's
  ``button`` secondary -> right, auxiliary -> middle (forward/back have no Playwright equivalent).
  Offsets, ``duration`` and ``deviceType`` are dropped: Playwright acts on the element's centre.
- Selectors: each entry is a chain (list) or, in the flat form, a string; only one-element chains
  are usable (longer ones walk into shadow roots or frames, which one locator cannot express).
  ``aria/Name[role="r"]`` -> role + name; ``text/x`` -> text; ``xpath/x`` -> xpath; ``pierce/x``
  and plain CSS -> css (Playwright's CSS pierces open shadow roots). The first usable selector in
  recorded order wins, except that a role-less ``aria/Name`` is a last resort: Playwright cannot
  find "any element with this accessible name", and text matching both misses aria-label-only
  elements and matches every longer text containing the name.
- change -> fill, or select when the element is a ``<select>``. Exports do not record element
  types, so this is decided from the selectors of the change and of earlier clicks on the same
  element: the last compound of a CSS/pierce selector (or the last step of an XPath) is a
  ``select`` element, or an id/class/name there ends in the word "select" (``#select``,
  ``#country-select``, ``.form-select``, ``#countrySelect``). Anything else is a fill.
- keyDown -> press (on the keyboard). A modifier (Shift, Control, Alt, Meta) held while another
  key goes down becomes a chord (``Shift+Tab``); a modifier pressed and released alone becomes a
  press of it. keyUp never makes a step of its own.
- waitForElement -> expect_visible when it waits for one visible element (the default), or
  expect_hidden when it waits for none; ``attributes`` (and an ``id`` property) are folded into a
  CSS selector. Other counts, operators and property checks are unsupported.
- A navigation in a step's ``assertedEvents`` adds expect_url after a click, change or keyDown
  (replay waits for that navigation; Playwright's expect_url waits the same way), and after a
  navigate only when the page ended on another URL (a redirect). Asserted titles are not kept:
  replay does not check them either, and most are recorded empty.
- Unsupported: steps on another page or a cross-origin frame (``target`` other than "main"), in an
  iframe (``frame``), waitForExpression and customStep (Sentri never runs page or extension code),
  emulateNetworkConditions, scroll, close, any unknown type, a later setViewport of another size,
  and device emulation (isMobile, hasTouch, deviceScaleFactor != 1; the size itself is kept).
- The flow's title is the test's name; a recorded ``timeout`` (step or flow) becomes the step's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sentri.aria_roles import ROLES

MODIFIERS = ("Shift", "Control", "Alt", "Meta")
_BUTTONS = {"primary": None, "secondary": "right", "auxiliary": "middle"}
_NEVER = {
    "waitForExpression": "Sentri never runs page code",
    "customStep": "Sentri never runs extension code",
    "emulateNetworkConditions": "network throttling is not a Sentri step",
    "scroll": "scrolling is not a Sentri step (Playwright scrolls elements into view before acting)",
    "close": "closing the page is not a Sentri step",
}
_ACTIONS = {"click": "click", "doubleClick": "dblclick", "hover": "hover"}
_SELECT_NAME = re.compile(r"(?i:(?:^|[-_])select)$|[a-z0-9]Select$")
_IDENTS = re.compile(r"""[#.]([\w-]+)|@?\b(?:id|name)\s*=\s*['"]?([\w-]+)""")
_ATTRIBUTE = re.compile(r"[A-Za-z_][\w-]*")


def is_recording(doc: Any) -> bool:
    """Tell whether a parsed document is one Recorder flow."""
    return (
        isinstance(doc, dict)
        and "title" in doc
        and isinstance(doc.get("steps"), list)
        and all(isinstance(step, dict) and "type" in step for step in doc["steps"])
    )


def is_recording_map(doc: Any) -> bool:
    """Tell whether a parsed document maps names to Recorder flows (like DevTools' test snapshots)."""
    return isinstance(doc, dict) and bool(doc) and all(is_recording(v) for v in doc.values())


def locator(selector: str) -> dict | None:
    """Translate one Puppeteer selector into a Sentri target, or None when it has no equivalent."""
    prefix, _, body = selector.partition("/")
    if prefix == "aria" and body:
        match = re.fullmatch(r'(.*?)\[role="([^"]*)"\]', body, re.S)
        name, role = (match.group(1), match.group(2)) if match else (body, None)
        if role is not None:
            if role not in ROLES:
                return None
            return {"role": role, "name": name} if name else {"role": role}
        return {"text": name}
    if prefix in ("text", "xpath") and body:
        return {prefix: body}
    if prefix == "pierce" and body:
        return {"css": body}
    if "::-p-" in selector or ">>>" in selector or not selector.strip():
        return None  # Puppeteer-only syntax Playwright's CSS does not parse
    return {"css": selector}


def chains(step: dict) -> list[list[str]]:
    """Return a step's selectors as chains, accepting the flat form (a list of strings)."""
    entries = step.get("selectors")
    out = []
    for entry in entries if isinstance(entries, list) else []:
        chain = [entry] if isinstance(entry, str) else entry
        if isinstance(chain, list) and chain and all(isinstance(s, str) for s in chain):
            out.append(chain)
    return out


def pick_target(step: dict, css_only: bool = False) -> dict | None:
    """Pick the first usable selector of a step (role-less aria/ last); None if there is none."""
    fallback = None
    for chain in chains(step):
        if len(chain) != 1:
            continue
        target = locator(chain[0])
        if target is None or (css_only and "css" not in target):
            continue
        if chain[0].startswith("aria/") and "text" in target:
            fallback = fallback or target
            continue
        return target
    return fallback


def _tail(selector: str, separators: str) -> str:
    """Return what follows the last top-level separator (outside quotes, brackets and parens)."""
    depth, quote, start = 0, None, 0
    for i, ch in enumerate(selector):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and ch in separators:
            start = i + 1
    return selector[start:].strip()


def names_select(selector: str) -> bool:
    """Tell whether a selector's last compound is, or is named like, a <select> element."""
    if selector.startswith("xpath/"):
        last = _tail(selector[len("xpath/") :], "/|")
    elif selector.startswith(("aria/", "text/")):
        return False
    else:
        last = _tail(selector.removeprefix("pierce/"), " >+~,")
    if re.match(r"select(?![\w-])", last, re.I):
        return True
    return any(_SELECT_NAME.search(a or b) for a, b in _IDENTS.findall(last))


def _with_attributes(css: str, attributes: dict) -> str | None:
    """Append attribute conditions to a CSS selector; None if an attribute cannot be written."""
    conditions = ""
    for name, value in attributes.items():
        if not (isinstance(name, str) and _ATTRIBUTE.fullmatch(name) and isinstance(value, str)):
            return None
        conditions += f"[{name}={json.dumps(value, ensure_ascii=False)}]"
    return (f":is({css})" if "," in css else css) + conditions


class _Converter:
    """Walk a flow once, keeping what later steps depend on (held keys, earlier clicks)."""

    def __init__(self, flow: dict):
        self.flow = flow
        self.steps: list[dict] = []
        self.numbers: list[int] = []
        self.unsupported: list[tuple[int, str, str]] = []
        self.viewport: dict | None = None
        self.held: dict[str, list] = {}  # modifier -> [step number, used in a chord]
        self.clicked: list[list[list[str]]] = []

    def emit(self, number: int, step: dict, source: dict) -> None:
        """Add a converted step, carrying the recorded timeout (or the flow's)."""
        timeout = source.get("timeout", self.flow.get("timeout"))
        if timeout is not None:
            step["timeout"] = timeout
        self.steps.append(step)
        self.numbers.append(number)

    def skip(self, number: int, kind: str, reason: str) -> None:
        self.unsupported.append((number, kind, reason))

    def run(self) -> None:
        for number, step in enumerate(self.flow["steps"], start=1):
            kind = str(step.get("type"))
            if kind in _NEVER:
                self.skip(number, kind, _NEVER[kind])
            elif step.get("target", "main") != "main":
                self.skip(
                    number,
                    kind,
                    f"acts on another page or frame ({step['target']}); a Sentri test drives one page",
                )
            elif step.get("frame"):
                self.skip(
                    number,
                    kind,
                    f"acts inside an iframe (frame {step['frame']}); Sentri locators do not enter frames",
                )
            elif hasattr(self, f"on_{kind}"):
                getattr(self, f"on_{kind}")(number, step)
            else:
                self.skip(number, str(kind), "unknown Recorder step type")
        for key, (number, used) in self.held.items():
            if not used:  # pressed and never released in the recording
                self.emit(number, {"action": "press", "key": key}, {})

    def expect_navigation(self, number: int, step: dict, unless_url: str | None = None) -> None:
        """Add expect_url for a navigation the step asserted (replay waits for it)."""
        events = step.get("assertedEvents")
        for event in events if isinstance(events, list) else []:
            url = event.get("url") if isinstance(event, dict) else None
            if url and event.get("type") == "navigation" and url != unless_url:
                self.emit(number, {"action": "expect_url", "url": url}, {})

    def on_setViewport(self, number: int, step: dict) -> None:
        size = {"width": step.get("width"), "height": step.get("height")}
        if self.viewport is not None and size != self.viewport:
            return self.skip(number, "setViewport", "changes the viewport mid-test; a Sentri test has one")
        self.viewport = size
        emulation = [f for f in ("isMobile", "hasTouch") if step.get(f)]
        if step.get("deviceScaleFactor", 1) != 1:
            emulation.append(f"deviceScaleFactor {step['deviceScaleFactor']}")
        if emulation:
            kept = f"{size['width']}x{size['height']}"
            self.skip(
                number,
                "setViewport",
                f"device emulation ({', '.join(emulation)}) is not supported; only the {kept} size is kept",
            )

    def on_navigate(self, number: int, step: dict) -> None:
        self.emit(number, {"action": "goto", "url": step.get("url")}, step)
        self.expect_navigation(number, step, unless_url=step.get("url"))

    def on_click(self, number: int, step: dict) -> None:
        kind = step["type"]
        button = step.get("button", "primary")
        if not isinstance(button, str) or button not in _BUTTONS or (button != "primary" and kind != "click"):
            return self.skip(number, kind, f'mouse button "{button}" has no Playwright equivalent here')
        target = pick_target(step)
        if target is None:
            return self.skip(number, kind, "no selector Sentri can use")
        converted = {"action": _ACTIONS[kind], "target": target}
        if _BUTTONS[button]:
            converted["button"] = _BUTTONS[button]
        self.emit(number, converted, step)
        self.clicked.append(chains(step))
        self.expect_navigation(number, step)

    on_doubleClick = on_hover = on_click

    def on_change(self, number: int, step: dict) -> None:
        target = pick_target(step)
        if target is None:
            return self.skip(number, "change", "no selector Sentri can use")
        own = chains(step)
        # Earlier clicks on the same element may have been recorded with more telling selectors.
        evidence = own + [c for clicked in self.clicked if any(x in own for x in clicked) for c in clicked]
        is_select = any(names_select(chain[-1]) for chain in evidence)
        action = "select" if is_select else "fill"
        self.emit(number, {"action": action, "target": target, "value": step.get("value")}, step)
        self.expect_navigation(number, step)

    def on_keyDown(self, number: int, step: dict) -> None:
        key = step.get("key")
        if key in MODIFIERS:
            self.held[key] = [number, False]
            return
        for state in self.held.values():
            state[1] = True
        chord = "+".join([*self.held, key]) if isinstance(key, str) else key
        self.emit(number, {"action": "press", "key": chord}, step)
        self.expect_navigation(number, step)

    def on_keyUp(self, number: int, step: dict) -> None:
        key = step.get("key")
        state = self.held.pop(key, None) if isinstance(key, str) else None
        if state is not None and not state[1]:
            self.emit(state[0], {"action": "press", "key": step["key"]}, step)

    def on_waitForElement(self, number: int, step: dict) -> None:
        operator, count = step.get("operator", ">="), step.get("count", 1)
        visible = step.get("visible", True)
        if visible is True and count == 1 and operator in (">=", "=="):
            action = "expect_visible"
        elif visible is True and count == 0 and operator in ("==", "<="):
            action = "expect_hidden"  # no visible match: Playwright's to_be_hidden
        else:
            state = "visible" if visible else "hidden"
            return self.skip(
                number,
                "waitForElement",
                f"waits for {operator} {count} {state} elements, "
                "which expect_visible/expect_hidden cannot express",
            )
        attributes, properties = step.get("attributes") or {}, step.get("properties") or {}
        if not isinstance(attributes, dict) or not isinstance(properties, dict):
            return self.skip(number, "waitForElement", "its attributes/properties are not mappings")
        attributes = dict(attributes)
        for name, value in properties.items():
            if name != "id":  # the id property is the only one that always equals its attribute
                return self.skip(
                    number, "waitForElement", f'checks the DOM property "{name}", which needs page code'
                )
            attributes.setdefault("id", value)
        target = pick_target(step, css_only=bool(attributes))
        if target is not None and attributes:
            css = _with_attributes(target["css"], attributes)
            target = {"css": css} if css else None
        if target is None:
            return self.skip(number, "waitForElement", "no selector Sentri can use")
        self.emit(number, {"action": action, "target": target}, step)


def convert_numbered(flow: dict) -> tuple[dict, list[tuple[int, str, str]], list[int]]:
    """Convert a flow; also return, per produced step, the recorded step number it came from."""
    converter = _Converter(flow)
    converter.run()
    doc: dict[str, Any] = {"name": flow.get("title"), "steps": converter.steps}
    if converter.viewport is not None:
        doc["viewport"] = converter.viewport
    return doc, converter.unsupported, converter.numbers


def convert(flow: dict) -> tuple[dict, list[tuple[int, str, str]]]:
    """Return (native test document, unsupported: [(step number from 1, step type, reason)])."""
    doc, unsupported, _ = convert_numbered(flow)
    return doc, unsupported
