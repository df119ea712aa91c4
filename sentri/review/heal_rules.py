"""What a heal may put in place of a broken target: asked by the worker choosing one and again by the server
before it stores or applies one (a worker's word is not what decides what a test becomes).

Several steps of a test may share a target, and one heal serves them all (accepting it changes each), so
the rules come from every step that uses the broken target:

- Any step: no page text with a digit in it ("3 items left", "Clear completed (1)"). Counts change with
  the page's data, and a heal made of one breaks again as soon as they do.
- An assertion (expect_text, expect_visible, expect_hidden, expect_screenshot): never the asserted text in
  what the target reads from the page (text, name, label, placeholder), holding it or held by it. A target
  made of it finds only elements that show it, so the step could never fail again.
- An assertion whose target picks its element by position (`nth`, `:nth-child(...)`, `:first-of-type`, an
  XPath index): only a CSS path (which carries `:nth-of-type` where siblings look alike). Every other
  description follows the element wherever it moves, and the ordering regression the step guards would pass.
- An assertion's heal ranks the structural descriptions (test id, CSS path) before the ones read from what
  the page shows (role and name, label, placeholder, text)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..ui.steps import describe_target

ASSERTIONS = frozenset({"expect_text", "expect_visible", "expect_hidden", "expect_screenshot"})
PAGE_TEXT = ("text", "name", "label", "placeholder")  # target fields read from what the page shows
STRUCTURAL = ("testid", "css")
POSITIONAL_CSS = re.compile(r":(nth-|first-|last-|only-)", re.IGNORECASE)
POSITIONAL_XPATH = re.compile(r"\[\s*\d+\s*\]|position\(|last\(")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def positional(target: dict) -> bool:
    """Tell whether a target picks its element by position among similar ones."""
    return (
        target.get("nth") is not None
        or bool(POSITIONAL_CSS.search(str(target.get("css", ""))))
        or bool(POSITIONAL_XPATH.search(str(target.get("xpath", ""))))
    )


def key(target: dict) -> str:
    """Name a target so that the steps sharing it are found by it (dicts are not hashable)."""
    return json.dumps(target, sort_keys=True)


def steps_using(steps: list[dict], target: dict) -> list[int]:
    """The steps (numbered from 1) whose target is `target`: the ones one heal of it changes."""
    return [index for index, step in enumerate(steps, start=1) if step.get("target") == target]


@dataclass(frozen=True)
class Rules:
    """What a new target for one broken target must respect (module docstring)."""

    assertion: bool = False  # an assertion step uses the target
    positional: bool = False  # ... and picks its element by position
    asserted: tuple[str, ...] = ()  # the texts those assertions expect

    def refusal(self, target: dict) -> str | None:
        """Say why `target` may not replace the broken one (a clause), or None when it may."""
        for field in PAGE_TEXT:
            value = target.get(field)
            if isinstance(value, str) and any(char.isdigit() for char in value):
                return (
                    f'it holds page text with a number in it ("{value}"), which changes with the page\'s data'
                )
        for text in self.asserted:
            for field in PAGE_TEXT:
                value = _norm(target.get(field)) if isinstance(target.get(field), str) else ""
                # A value inside the asserted text is made of it as much as one holding it. A test id or CSS
                # path is not read from what the page shows: "1" asserted leaves `:nth-of-type(1)` alone.
                if value and (_norm(text) in value or value in _norm(text)):
                    return f'it is made of the asserted text "{text}", so the assertion could never fail'
        if self.positional and "css" not in target:
            return "the step picks its element by position, which only a CSS path keeps"
        return None

    def ranked(self, targets: list[dict]) -> list[dict]:
        """Order targets most trusted first: for an assertion, the structural ones lead (stable sort)."""
        if not self.assertion:
            return list(targets)
        return sorted(targets, key=lambda target: 0 if set(STRUCTURAL) & set(target) else 1)

    def refusal_sentence(self, target: dict) -> str:
        """The sentence a failed step gets when the only targets that find its element are refused."""
        return f"A heal was refused: only {describe_target(target)} still finds the element, and {self.refusal(target)}."


def rules_for(steps: list[dict], target: dict) -> Rules:
    """The rules a new target for `target` must respect, from every step of the test that uses it."""
    checks = [step for step in steps if step.get("target") == target and step.get("action") in ASSERTIONS]
    asserted = [step["text"] for step in checks if step.get("action") == "expect_text" and step.get("text")]
    return Rules(
        assertion=bool(checks),
        positional=bool(checks) and positional(target),
        asserted=tuple(dict.fromkeys(asserted)),
    )
