"""The one reader of `Authorization: Bearer <credential>` headers, and of what kind of credential it is:
a trigger token (`sentri_...`, also accepted as `aegis_sentri_...` so that pipelines written for
AegisRunner work with only the secret changed) or a user's API token (a JWT)."""

from __future__ import annotations

from .errors import Unauthorized

TRIGGER_TOKEN_PREFIX = "sentri_"
ALIAS_PREFIXES = ("aegis_",)


def credential(header: str | None, *, what: str) -> str:
    """Return the credential of a Bearer header, or raise 401 saying what the endpoint expects."""
    if not header:
        raise Unauthorized(f"Missing Authorization header; send 'Authorization: Bearer <{what}>'.")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise Unauthorized(f"The Authorization header must be 'Bearer <{what}>'.")
    return value


def trigger_token(value: str) -> str | None:
    """Return the trigger token a credential holds (its alias prefix removed), or None when it holds none."""
    for alias in ("", *ALIAS_PREFIXES):
        if value.startswith(alias + TRIGGER_TOKEN_PREFIX):
            return value[len(alias) :]
    return None


def holds_trigger_token(header: str | None) -> bool:
    """Tell, without raising, whether a header carries a trigger token rather than a user's token."""
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and trigger_token(value.strip()) is not None
