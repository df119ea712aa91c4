"""Parse and strictly validate Sentri tests (data, not code) into their canonical form.

A test is ``{"name", "tags", "steps", "viewport"?, "covers"?}``; each step is one Playwright call.
Steps may be written in the canonical form (``{"action": "fill", "target": {...}, "value": "x"}``)
or in the short YAML form (``{"fill": {...}, "value": "x"}``: the action name is the key, its value
the action's primary field). Both validate to the canonical form, which is what the API returns.

Every problem is reported, not just the first, as one sentence naming the test (its name, or its
position ``#n`` in the file), the step and its action, e.g.
``test "Sign-in" (#2): step 3 (fill): missing field "value"``. Steps and tests are numbered from 1;
for an imported Chrome Recorder flow the step number is the recording's own step number.

Target ``nth`` picks among several matches: 0 is the first, -1 the last (Playwright's ``.last``);
other negative numbers are rejected because Playwright does not accept them.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from functools import reduce
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sentri import origins, recorder
from sentri.aria_roles import ROLES
from sentri.testformat_errors import MAX_MASKS, MAX_STEPS, sentences, show

LOCATOR_KEYS: tuple[str, ...] = ("css", "text", "role", "label", "placeholder", "testid", "xpath")
# Keys the server fills in; accepted and dropped so that an exported test can be re-imported.
SERVER_KEYS = (
    "id",
    "projectId",
    "reviewStatus",
    "createdAt",
    "updatedAt",
    "reviewedAt",
    "flakyScore",
    "healCount",
    "lastResult",
    "version",
    "quarantine",
)

# The short form's key value fills this field; actions not listed here take a target.
_PRIMARY = {
    "goto": "url",
    "expect_url": "url",
    "wait": "ms",
    "expect_title": "title",
    "expect_screenshot": "name",
}


class TestFormatError(ValueError):
    """Raised with every problem found; str(e) is a readable multi-line message."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(f"- {p}" for p in self.problems)
        super().__init__(message)


def _not_blank(value: str) -> str:
    """Reject empty and whitespace-only strings."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def _storable(value: str) -> str:
    """Reject NUL: a test's name is a text column, and PostgreSQL cannot store NUL in one."""
    if "\x00" in value:
        raise PydanticCustomError("nul", "must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]


def _web_url(value: str) -> str:
    """Accept only an http(s) URL or a path on the base URL: the browser goes only to web pages."""
    problem = origins.step_url_problem(value)
    if problem:
        raise PydanticCustomError("sentri", '"url" ' + problem.replace("{", "{{").replace("}", "}}"))
    return value


WebUrl = Annotated[str, AfterValidator(_not_blank), AfterValidator(_web_url)]


class _Strict(BaseModel):
    # strict: YAML/JSON give real types, so "500" for an int or 1 for a bool is a mistake to report.
    model_config = ConfigDict(extra="forbid", strict=True)


class Target(_Strict):
    """One Playwright locator."""

    css: Text | None = None
    text: Text | None = None
    role: Text | None = None
    label: Text | None = None
    placeholder: Text | None = None
    testid: Text | None = None
    xpath: Text | None = None
    name: Text | None = None
    exact: bool | None = None
    nth: int | None = Field(default=None, ge=-1)

    @model_validator(mode="after")
    def _one_locator(self) -> Target:
        """Check that exactly one locator is set and that the modifiers fit it."""
        used = [key for key in LOCATOR_KEYS if getattr(self, key) is not None]
        problems = []
        if len(used) != 1:
            got = ", ".join(used) if used else "none"
            problems.append(f"target must have exactly one of {', '.join(LOCATOR_KEYS)} (got: {got})")
        if self.role is not None and self.role not in ROLES:
            problems.append(f'target role "{self.role}" is not an ARIA role Playwright knows')
        if self.name is not None and self.role is None:
            problems.append('target "name" only goes with "role"')
        if self.exact is not None and not {"role", "text", "label", "placeholder"} & set(used):
            problems.append('target "exact" only goes with role, text, label or placeholder')
        if problems:
            raise PydanticCustomError("sentri", "; ".join(problems))
        return self


class _Step(_Strict):
    timeout: int | None = Field(default=None, ge=1, le=120_000)
    description: str | None = None


_TARGET = (Target, ...)
# The action table of test-format.md: action -> its own fields as (type, default; ... = required).
_ACTION_FIELDS: dict[str, dict[str, tuple[Any, Any]]] = {
    "goto": {"url": (WebUrl, ...)},
    "click": {"target": _TARGET, "button": (Literal["left", "right", "middle"] | None, None)},
    "dblclick": {"target": _TARGET},
    "hover": {"target": _TARGET},
    "fill": {"target": _TARGET, "value": (str, ...)},  # may be empty: filling "" clears a field
    "press": {"target": (Target | None, None), "key": (Text, ...)},  # no target: the keyboard
    "select": {"target": _TARGET, "value": (Text, ...)},
    "check": {"target": _TARGET},
    "uncheck": {"target": _TARGET},
    "wait": {"ms": (Annotated[int, Field(ge=0, le=30_000)], ...)},
    "expect_visible": {"target": _TARGET},
    "expect_hidden": {"target": _TARGET},
    "expect_text": {"target": _TARGET, "text": (Text, ...)},
    "expect_url": {"url": (Text, ...)},
    "expect_title": {"title": (Text, ...)},
    # A screenshot compared with the approved baseline of (test, name, browser, device, viewport).
    "expect_screenshot": {
        "name": (
            Annotated[
                str, StringConstraints(max_length=100), AfterValidator(_not_blank), AfterValidator(_storable)
            ],
            ...,
        ),
        "target": (Target | None, None),
        # Pixels past `threshold` that may differ: none unless one of these loosens it (both: the smaller).
        "maxDiffPixels": (Annotated[int, Field(ge=0)] | None, None),
        "maxDiffPixelRatio": (Annotated[float, Field(ge=0, le=1)] | None, None),
        "threshold": (Annotated[float, Field(ge=0, le=1)] | None, None),
        "mask": (Annotated[list[Target], Field(max_length=MAX_MASKS)] | None, None),
        "fullPage": (bool | None, None),
    },
}
ACTIONS: tuple[str, ...] = tuple(_ACTION_FIELDS)
# action -> the fields a step of it may have, in canonical order (after "action")
_FIELDS = {action: (*fields, *_Step.model_fields) for action, fields in _ACTION_FIELDS.items()}
_STEP_FIELDS = {f for fields in _FIELDS.values() for f in fields}
_STEP_MODELS = [
    # Models made at import time: mypy can read neither a Literal of a variable nor a **dict of fields (it
    # matches the dict against every keyword create_model takes, __config__ and __module__ too).
    create_model(
        action.title().replace("_", "") + "Step",
        __base__=_Step,  # type: ignore[call-overload]
        action=(Literal[action], ...),
        **fields,
    )
    for action, fields in _ACTION_FIELDS.items()
]
# The union of those models: no static type can name it, hence Any.
_STEP_TYPE: Any = Annotated[reduce(operator.or_, _STEP_MODELS), Field(discriminator="action")]
_STEP: TypeAdapter[BaseModel] = TypeAdapter(_STEP_TYPE)


class Viewport(_Strict):
    width: int = Field(ge=100, le=7680)
    height: int = Field(ge=100, le=4320)


class TestDocument(_Strict):
    """A test's top level; its steps are validated one by one so each gets its own number."""

    __test__ = False

    name: Annotated[
        str, StringConstraints(max_length=200), AfterValidator(_not_blank), AfterValidator(_storable)
    ]
    tags: list[Text] = []
    steps: Annotated[list[Any], Field(min_length=1, max_length=MAX_STEPS)]
    viewport: Viewport | None = None
    covers: list[Text] | None = None


# -- steps ----------------------------------------------------------------------------------------


def _unshorten(step: Any) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """Bring a step to the canonical form; return (step, action, problems)."""
    if not isinstance(step, dict):
        return None, None, [f"must be a mapping (got {show(step)})"]
    named = [k for k in step if k in ACTIONS]
    if "action" in step:
        action = step["action"]
        if named:
            return None, None, [f'mixes the canonical form ("action") with the short form ("{named[0]}")']
        if action not in ACTIONS:
            return None, None, [f"unknown action {show(action)} (valid: {', '.join(ACTIONS)})"]
        return step, action, []
    if len(named) > 1:
        return None, None, [f"has several actions ({', '.join(named)}); use one step per action"]
    if not named:
        strangers = [str(k) for k in step if k not in _STEP_FIELDS]
        if len(strangers) == 1:
            return None, None, [f'unknown action "{strangers[0]}" (valid: {", ".join(ACTIONS)})']
        got = f" (got: {', '.join(strangers)})" if strangers else ""
        return None, None, [f"has no action: expected one of {', '.join(ACTIONS)} as a key{got}"]
    action = named[0]
    value, rest = step[action], {k: v for k, v in step.items() if k != action}
    if action in _PRIMARY:
        field = _PRIMARY[action]
    elif action == "press" and isinstance(value, str):
        field = "key"
    elif isinstance(value, dict):
        field = "target"
    else:
        example = "a key name or a target mapping" if action == "press" else 'a target like {css: "h1"}'
        return None, action, [f'the value of "{action}" must be {example} (got {show(value)})']
    if field in rest:
        return None, action, [f'sets "{field}" twice (as the value of "{action}" and as "{field}")']
    return {"action": action, field: value, **rest}, action, []


def _canonical_step(model: BaseModel) -> dict[str, Any]:
    """Dump a step as action, target, its own fields, then timeout and description."""
    data = model.model_dump(exclude_none=True)
    return {k: data[k] for k in ("action", *_FIELDS[data["action"]]) if k in data}


def _check_step(step: Any, where: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Validate one step; `where` is its prefix like 'test "X": step 3'."""
    canonical, action, problems = _unshorten(step)
    label = f"{where} ({action})" if action else where
    if (
        problems or canonical is None or action is None
    ):  # no problem: _unshorten found the step and its action
        return None, [f"{label}: {p}" for p in problems]
    try:
        model = _STEP.validate_python(canonical)
    except ValidationError as exc:
        allowed = {(): _FIELDS[action], ("target",): (*LOCATOR_KEYS, "name", "exact", "nth")}
        return None, [f"{label}: {p}" for p in sentences(exc, 1, allowed)]
    return _canonical_step(model), []


def _check_steps(
    steps: Sequence[Any], prefix: str, numbers: Sequence[int] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate every step of a list, numbering them from 1 (or by `numbers`)."""
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, step in enumerate(steps):
        number = numbers[i] if numbers else i + 1
        canonical, found = _check_step(step, f"{prefix}: step {number}")
        problems += found
        if canonical is not None:
            out.append(canonical)
    return out, problems


def validate_steps(steps: Any, label: str = "test") -> list[dict[str, Any]]:
    """Validate a list of steps alone (a PATCH of steps) and return them in canonical form."""
    if not isinstance(steps, list):
        raise TestFormatError([f'{label}: "steps" must be a list (got {show(steps)})'])
    if not steps or len(steps) > MAX_STEPS:
        raise TestFormatError([f'{label}: "steps" must hold 1 to {MAX_STEPS} steps (got {len(steps)})'])
    out, problems = _check_steps(steps, label, None)
    if problems:
        raise TestFormatError(problems)
    return out


def _screenshot_names(steps: Sequence[dict[str, Any]]) -> list[str]:
    """A screenshot's name keys its baseline within the test: two steps may not share one."""
    seen: dict[str, int] = {}
    problems = []
    for number, step in enumerate(steps, start=1):
        if step["action"] != "expect_screenshot":
            continue
        if step["name"] in seen:
            problems.append(
                f'step {number} (expect_screenshot): the name "{step["name"]}" is already used by '
                f"step {seen[step['name']]}; each screenshot of a test needs its own name"
            )
        seen.setdefault(step["name"], number)
    return problems


# -- tests ----------------------------------------------------------------------------------------


def test_prefix(doc: Any, position: str | None, fallback: str) -> str:
    """Name a test in messages: by its name when it has one, else by position."""
    name = doc.get("name") if isinstance(doc, dict) else None
    if isinstance(name, str) and name.strip():
        shown = name if len(name) <= 80 else name[:77] + "..."
        return f"test {json.dumps(shown, ensure_ascii=False)}" + (f" ({position})" if position else "")
    return f"test {position}" if position else fallback


def check_test(
    doc: Any, prefix: str, numbers: Sequence[int] | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """Validate one native test document; return (canonical, problems)."""
    if not isinstance(doc, dict):
        return None, [f"{prefix}: must be a mapping with name and steps (got {show(doc)})"]
    if recorder.is_recording(doc):
        return None, [f"{prefix}: is a Chrome Recorder recording; import it as a file to convert it"]
    doc = {k: v for k, v in doc.items() if k not in SERVER_KEYS}
    problems = []
    try:
        top = TestDocument.model_validate(doc)
    except ValidationError as exc:
        top = None
        allowed = {(): tuple(TestDocument.model_fields), ("viewport",): ("width", "height")}
        problems += [f"{prefix}: {p}" for p in sentences(exc, 0, allowed)]
    steps: list[dict[str, Any]] = []
    if isinstance(doc.get("steps"), list):
        steps, found = _check_steps(doc["steps"], prefix, numbers)
        problems += found
    problems += [f"{prefix}: {p}" for p in _screenshot_names(steps)]
    if problems or top is None:
        return None, problems
    canonical: dict[str, Any] = {"name": top.name, "tags": list(top.tags), "steps": steps}
    if top.viewport is not None:
        canonical["viewport"] = top.viewport.model_dump()
    if top.covers is not None:
        canonical["covers"] = list(top.covers)
    return canonical, []


def validate_test(doc: dict[str, Any], label: str = "test") -> dict[str, Any]:
    """Validate one native test document and return its canonical dict.

    Problems name the test by its name; `label` names it when it has none.
    """
    canonical, problems = check_test(doc, test_prefix(doc, None, label))
    if problems or canonical is None:  # no problem: check_test returned the canonical test
        raise TestFormatError(problems)
    return canonical
