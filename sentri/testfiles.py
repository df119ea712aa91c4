"""A file of tests, as a person or a tool wrote it: JSON or YAML (read safely: no aliases, caps on nesting
and size), holding one test, a list of tests, a Chrome Recorder flow or a mapping of name -> flow.
Recorder flows are converted (recorder.py) and every test validated (testformat.py), all or nothing."""

from __future__ import annotations

import json

import yaml

from . import recorder, testformat
from .validation import nesting_depth


def _syntax_error(text: str, json_exc: json.JSONDecodeError, yaml_exc: yaml.YAMLError) -> str:
    """Describe why the text is neither JSON nor YAML, naming the line."""
    if text.lstrip()[:1] in ("{", "["):  # meant as JSON: its error is the relevant one
        return f"line {json_exc.lineno}, column {json_exc.colno}: invalid JSON: {json_exc.msg}"
    mark = getattr(yaml_exc, "problem_mark", None) or getattr(yaml_exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{where}invalid YAML: {getattr(yaml_exc, 'problem', None) or yaml_exc}"


MAX_DEPTH = 64
MAX_YAML_NODES = 200_000


class _TestLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, and with caps on nesting and node count.

    An alias re-uses a node, so ten nested aliases of ten items each make a 1 KB file that expands to
    ten billion values the moment anything walks it; tests never need them (write the values out)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not supported in test files; write the values out", mark
            )
        self._nodes += 1
        self._depth += 1
        try:
            if self._nodes > MAX_YAML_NODES or self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                what = (
                    f"more than {MAX_YAML_NODES} values"
                    if self._nodes > MAX_YAML_NODES
                    else (f"nesting deeper than {MAX_DEPTH} levels")
                )
                raise yaml.composer.ComposerError(None, None, f"the file has {what}", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str):
    """Parse YAML safely: no aliases, at most MAX_DEPTH levels and MAX_YAML_NODES values (yaml.YAMLError)."""
    loader = _TestLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_document(text: str, filename: str | None = None) -> list[dict]:
    """Parse JSON or YAML text into the list of raw test documents it holds.

    A file may hold one test, a list of tests, a Chrome Recorder flow, or a mapping of
    name -> Recorder flow. Flows are returned unconverted; those from a mapping get the mapping's
    key as their title, because that key is what tells them apart (most are "New Recording").
    """
    where = f"{filename}: " if filename else ""
    try:
        data = json.loads(text)  # strict JSON first: PyYAML is YAML 1.1 and trips on some JSON
    except RecursionError:
        raise testformat.TestFormatError([f"{where}the file nests deeper than {MAX_DEPTH} levels"]) from None
    except json.JSONDecodeError as json_exc:
        try:
            data = load_yaml(text)
        except yaml.YAMLError as yaml_exc:
            raise testformat.TestFormatError([where + _syntax_error(text, json_exc, yaml_exc)]) from None
        except RecursionError:
            raise testformat.TestFormatError(
                [f"{where}the file nests deeper than {MAX_DEPTH} levels"]
            ) from None
    if nesting_depth(data) > MAX_DEPTH:
        raise testformat.TestFormatError([f"{where}the file nests deeper than {MAX_DEPTH} levels"])
    if data is None:
        raise testformat.TestFormatError([f"{where}the file is empty"])
    if recorder.is_recording_map(data):
        return [dict(flow, title=str(key)) for key, flow in data.items()]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        if not data:
            raise testformat.TestFormatError([f"{where}the file holds an empty list: no tests"])
        return data
    raise testformat.TestFormatError(
        [f"{where}expected a test (a mapping) or a list of tests, got {testformat.show(data)}"]
    )


def load_tests(
    text: str, filename: str | None = None, *, skip_unsupported: bool = False
) -> tuple[list[dict], list[str]]:
    """Parse, convert Recorder flows and validate every test; return (tests, warnings).

    Raise TestFormatError listing all problems of all tests when any test is invalid, or when a
    Recorder flow has steps Sentri cannot express and `skip_unsupported` is false.
    """
    where = f"{filename}: " if filename else ""
    docs = parse_document(text, filename)
    tests, problems, warnings = [], [], []
    for i, doc in enumerate(docs, start=1):
        position = f"#{i}" if len(docs) > 1 else None
        numbers = None
        if recorder.is_recording(doc):
            native, unsupported, numbers = recorder.convert_numbered(doc)
            prefix = testformat.test_prefix(native, position, f"test #{i}")
            verdict = "skipped, not supported" if skip_unsupported else "not supported"
            notes = [f"{where}{prefix}: step {n} ({kind}): {verdict} — {why}" for n, kind, why in unsupported]
            (warnings if skip_unsupported else problems).extend(notes)
            doc = native
        prefix = testformat.test_prefix(doc, position, f"test #{i}")
        canonical, found = testformat.check_test(doc, prefix, numbers)
        problems += [where + p for p in found]
        if canonical is not None:
            tests.append(canonical)
    if problems:
        raise testformat.TestFormatError(problems)
    return tests, warnings
