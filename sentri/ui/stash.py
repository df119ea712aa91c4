"""A freshly made token's plaintext, shown once on the page the creation redirects to.

It travels in the session cookie, encrypted (Fernet, a key derived from the instance secret) and bound
to its owner, for at most STASH_SECONDS: any Sentri process can show it (several serve one database),
and the page that shows it pops it from the session."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

STASH_SECONDS = 300


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"sentri-one-time-reveal\0" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def stash_secret(owner: str, secret: str) -> str:
    """Seal a secret for one later read by the same owner; return the sealed form to keep in the session."""
    return _fernet().encrypt(json.dumps({"owner": owner, "secret": secret}).encode()).decode()


def take_secret(owner: str, sealed: str | None, *, now: float | None = None) -> str | None:
    """Return a stashed secret, or None when it is missing, expired, tampered with or someone else's
    (`now`, epoch seconds, for a clock other than this one's)."""
    if not sealed:
        return None
    try:
        fernet = _fernet()
        if now is None:
            plain = fernet.decrypt(sealed.encode(), ttl=STASH_SECONDS)
        else:
            plain = fernet.decrypt_at_time(sealed.encode(), ttl=STASH_SECONDS, current_time=int(now))
        entry = json.loads(plain)
    except (InvalidToken, ValueError):
        return None
    return entry["secret"] if entry.get("owner") == owner else None
