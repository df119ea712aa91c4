"""A failed step's message as a person reads it: what was expected and what the page had, each on its
own line, the call log apart.

Playwright says all of it in one block, and the worker stores it after "step 3 (expect_text): ":

    step 3 (expect_text): Locator expected to contain text 'Thanks'
    Actual value: Your cart
    Call log:
      - waiting for locator("h1") ...

Older results hold only the first line, and some messages (a click that timed out, a guard's refusal)
have no expectation at all: then the sentence is the message, and expected and received are None."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STEP = re.compile(r"^\s*step (\d+)(?: \(([a-z_]+)\))?:\s*", re.I)
_LOG = re.compile(r"\s*\b(?:Call log|Aria snapshot):")
_RECEIVED = re.compile(r"\s*\b(?:Actual value|Received string|Received):\s*")
_EXPECTED = re.compile(r"^(?P<what>.*?\bexpected to [^'\"]*?)\s*(?P<q>['\"])(?P<value>.*)(?P=q)$")
_PATTERN = re.compile(r"^re\.compile\((['\"])(?P<pattern>.*)\1\)$")
_ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Failure:
    """One failed step, told in parts."""

    step: int | None
    action: str | None
    sentence: str
    expected: str | None = None
    received: str | None = None
    log: str = ""  # Playwright's call log (and what else followed it), '' when there was none


def _shown(value: str) -> str:
    """A value as the test wrote it: the steps turn `title: O.K` into re.compile('O\\.K'); undo that."""
    pattern = _PATTERN.match(value)
    if not pattern:
        return value
    return _ESCAPED.sub(r"\1", pattern.group("pattern").replace("\\\\", "\\"))


def explain(error: str | None, failing_step: int | None = None) -> Failure:
    """Split a stored error into its step, sentence, expected and received values and call log."""
    text = (error or "").strip()
    step, action = failing_step, None
    while match := _STEP.match(text):  # "Step 3: step 3 (expect_text): ..." said the step twice
        step, action, text = int(match.group(1)), match.group(2) or action, text[match.end() :]
    log = ""
    if found := _LOG.search(text):
        text, log = text[: found.start()], text[found.start() :].strip()
        log = re.sub(r"^Call log:\s*", "", log).strip()
    claim, *rest = _RECEIVED.split(text, maxsplit=1)
    received = None
    if rest:
        lines = [line.strip() for line in rest[0].splitlines() if line.strip()]
        value, notes = (lines[0] if lines else ""), [re.sub(r"^Error:\s*", "", line) for line in lines[1:]]
        received = "nothing: " + "; ".join(notes) if value == "None" and notes else value
    lines = [line.strip() for line in claim.strip().splitlines() if line.strip()] or [""]
    first, more = lines[0], lines[1:]
    expected = None
    if match := _EXPECTED.match(first):
        first, expected = match.group("what"), _shown(match.group("value"))
    sentence = " ".join([first, *more]).strip() or "failed, without a message"
    return Failure(step, action, sentence, expected, received, log)
