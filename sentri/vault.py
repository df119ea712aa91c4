"""Environment secrets: encrypted at rest with Fernet (the cryptography package), masked on output.

The key is derived from the instance's secret key (SENTRI_SECRET_KEY or instance/secret_key), so a
database copied without it holds nothing readable; rotating that key makes stored secrets unreadable,
which a run reports by name instead of running with a wrong value."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

MASK = "••••"


class SecretUnreadable(ValueError):
    """A stored secret cannot be decrypted with this instance's key."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(
        b"sentri-environment-secrets\0" + current_app.config["SECRET_KEY"].encode()
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    """Return the encrypted form of a secret value."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str, name: str = "secret") -> str:
    """Return a secret's value, or raise SecretUnreadable naming it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"The secret {name} cannot be decrypted: the instance secret key changed since it was stored; "
            "set it again."
        ) from None


# A text cut to a length before it was masked (a crawled page's texts are cut in the page, which never sees
# the secrets; a step's error is cut to its first lines) may end in the first characters of a secret, alone or
# before the "..." of the cut: from this many characters on, such an end is masked too. Shorter is too little
# to narrow a secret down, and too often a word's ending.
MIN_CUT_PREFIX = 3
CUT_MARKS = ("...", "…")


def mask(text: str | None, values: list[str]) -> str | None:
    """Replace every secret value in a text with ••••, and a secret's first characters at the text's end (it
    was cut in the middle of one)."""
    if not text:
        return text
    secrets = sorted((v for v in values if v), key=len, reverse=True)
    for value in secrets:
        text = text.replace(value, MASK)
    return _cut_prefix_masked(text, secrets)


def _cut_prefix_masked(text: str, secrets: list[str]) -> str:
    mark = next((m for m in CUT_MARKS if text.endswith(m)), "")
    body = text[: len(text) - len(mark)]
    longest = max(
        (
            size
            for value in secrets
            for size in range(min(len(value) - 1, len(body)), MIN_CUT_PREFIX - 1, -1)
            if body.endswith(value[:size])
        ),
        default=0,
    )
    return body[: len(body) - longest] + MASK + mark if longest else text
