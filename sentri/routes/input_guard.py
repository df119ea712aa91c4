"""The check every request goes through before its view: no text a database here cannot store."""

from __future__ import annotations

import re

from flask import request

from ..errors import ValidationFailed

# Text no database here can store: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates (no
# UTF-8 encoding exists). JSON spells them \u0000 and \ud800-\udfff; an escape is real when an even
# number of backslashes precedes it ("\\u0000" is a backslash and "u0000"), and a high surrogate
# directly followed by a low one is a valid pair (an emoji). Python's json also decodes raw
# UTF-8-style surrogate bytes (ED A0..BF xx).
_JSON_ESCAPE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:(0000)|([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|([dD][c-fC-F][0-9a-fA-F]{2}))"
)
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def _unstorable(data: bytes) -> str | None:
    """Name the unstorable characters a JSON body holds, or return None."""
    if b"\x00" in data:
        return "NUL characters (\\u0000)"
    for match in _JSON_ESCAPE.finditer(data):
        if match.group(1):
            return "NUL characters (\\u0000)"
        if match.group(4) or not match.group(3):
            return "unpaired surrogates (\\ud800-\\udfff)"
    if _RAW_SURROGATE.search(data):
        return "unpaired surrogates (\\ud800-\\udfff)"
    return None


def refuse_unstorable_characters() -> None:
    """Refuse NUL characters in the query string, a form or a body, and unpaired surrogates in a JSON
    body, with a 400: a name, label, URL or secret carrying one ended as a 500 wherever it was stored
    or looked up (NUL on PostgreSQL; a surrogate on both databases, which cannot encode it)."""
    query = request.query_string
    if b"\x00" in query or b"%00" in query:
        raise ValidationFailed("The query string must not contain NUL characters (%00).")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Forms (already parsed by the CSRF check; invalid UTF-8 becomes U+FFFD there). An uploaded
        # file is checked as the test document it must be.
        if any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.form.lists()
        ):
            raise ValidationFailed("The form must not contain NUL characters.")
        return
    found = _unstorable(request.get_data(cache=True))
    if found:
        raise ValidationFailed(f"The request body must not contain {found}.")
