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


def mask(text: str | None, values: list[str]) -> str | None:
    """Replace every secret value in a text with ••••."""
    if not text:
        return text
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
