"""Configuration: defaults, then instance/config.py, then SENTRI_* environment, then test config."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from . import ratelimits
from . import settings as settings_module
from .settings import ConfigError, Settings

__all__ = ["DEFAULTS", "ENVIRONMENT", "ConfigError", "SecretKeyTooShort", "derive", "from_environment"]

# The key signs sessions and API tokens and derives the key that encrypts environment secrets: a short
# one can be brute-forced offline from any JWT. 32 bytes is HS256's own key size.
MIN_SECRET_KEY_BYTES = 32


class SecretKeyTooShort(ConfigError):
    """The configured secret key is shorter than MIN_SECRET_KEY_BYTES."""


# Flask's and its extensions' own settings; the SENTRI_* ones come from settings.py, with their defaults.
DEFAULTS: dict[str, object] = {
    **settings_module.defaults(),
    "RATELIMIT_ENABLED": True,
    # Uploads (test imports) and JSON bodies larger than this are refused with 413 before being read.
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    # Flask pre-sets these, so they belong here rather than in derive()'s setdefaults.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(days=7),
}
# The environment variables read as settings, with how each is parsed (SENTRI_INSTANCE_PATH is read first of
# all by create_app: it says where instance/config.py is).
ENVIRONMENT: dict[str, Callable[[str], object]] = {
    settings_module.env_name(spec.name): settings_module.parser(spec) for spec in settings_module.fields()
}


def from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """Return the SENTRI_* settings present in the environment, parsed to their types."""
    settings: dict[str, object] = {}
    for name, parse in ENVIRONMENT.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not valid: {exc}") from exc
    return settings


def instance_secret_key(instance_path: str) -> str:
    """Return the instance's secret key, generating it once (mode 0600) when the file is missing."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def check_secret_key(key: str, source: str) -> None:
    """Refuse a secret key shorter than MIN_SECRET_KEY_BYTES, naming where it came from."""
    size = len(key.encode())
    if size < MIN_SECRET_KEY_BYTES:
        raise SecretKeyTooShort(
            f"{source} is {size} bytes; it must be at least {MIN_SECRET_KEY_BYTES} (it signs sessions and API "
            "tokens and encrypts environment secrets). Make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def public_url(made: Settings) -> str:
    """The URL this server is reached at when no request says: SENTRI_PUBLIC_URL, else SENTRI_HOST:PORT."""
    return (made.public_url or f"http://{made.host}:{made.port}").rstrip("/")


def derive(config: dict, instance_path: str) -> Settings:
    """Fill in the Flask and extension settings that follow from the SENTRI_* ones, and return the settings
    parsed (Settings.load: a bad one raises ConfigError)."""
    made = Settings.load(config)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        url = made.database_url or f"sqlite:///{Path(instance_path) / 'sentri.db'}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        config["SQLALCHEMY_DATABASE_URI"] = url
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = made.secret_key or instance_secret_key(instance_path)
    check_secret_key(
        config["SECRET_KEY"],
        "SENTRI_SECRET_KEY" if made.secret_key else str(Path(instance_path) / "secret_key"),
    )
    config.setdefault("RATELIMIT_STORAGE_URI", ratelimits.storage_uri(made.ratelimit_storage_uri))
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    if (made.public_url or "").lower().startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True
    # CSRF tokens are checked by hand for cookie-authenticated API calls (see auth.py); the
    # form pages use Flask-WTF's global protection.
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    multiprocess = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess and not (os.path.isdir(multiprocess) and os.access(multiprocess, os.W_OK)):
        # prometheus_client writes every counter there: a missing folder would break claiming tests, not
        # only /metrics.
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR={multiprocess} is not a writable directory: create it "
            "(empty) before Sentri starts, or unset it."
        )
    return made
