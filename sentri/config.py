"""Configuration: defaults, then instance/config.py, then SENTRI_* environment, then test config."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from limits import parse_many

from . import ratelimits
from .notify import smtp as smtp_relay
from .origins import DEFAULT_BLOCKED_NETWORKS, parse_networks
from .ssrf import Allowlist
from .stores import parse_url as parse_artifact_url
from .worker.remote import parse_servers

# The key signs sessions and API tokens and derives the key that encrypts environment secrets: a short
# one can be brute-forced offline from any JWT. 32 bytes is HS256's own key size.
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """A setting Sentri cannot start with; the message says which and what to do."""


class SecretKeyTooShort(ConfigError):
    """The configured secret key is shorter than MIN_SECRET_KEY_BYTES."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str) -> int:
    return int(value.strip())


TRACE_MODES = ("rerun", "always")
# werkzeug.security's method strings: scrypt (its default) or pbkdf2, with their optional costs.
PASSWORD_METHOD = re.compile(r"scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha(256|512)(:\d+)?)?")


def _trace_mode(value: str) -> str:
    value = value.strip().lower()
    if value not in TRACE_MODES:
        raise ValueError(f"must be one of {', '.join(TRACE_MODES)}")
    return value


# The environment variables Sentri reads as settings, with the type each is parsed as (and
# SENTRI_INSTANCE_PATH, read first of all by create_app: it says where instance/config.py is). The config
# key is the variable's own name, so `app.config["SENTRI_PORT"]` and `SENTRI_PORT=9000` are one setting.
ENVIRONMENT: dict[str, Callable[[str], object]] = {
    "SENTRI_DATABASE_URL": str,
    "SENTRI_HOST": str,
    "SENTRI_PORT": _int,
    "SENTRI_SECRET_KEY": str,
    "SENTRI_PUBLIC_URL": str,
    "SENTRI_TRUSTED_PROXIES": _int,
    "SENTRI_TRIGGER_RATE_LIMIT": str,
    "SENTRI_LOGIN_RATE_LIMIT": str,
    "SENTRI_RATELIMIT_STORAGE_URI": str,
    "SENTRI_CALLBACK_ALLOWLIST": str,
    "SENTRI_CHROMIUM_PATH": str,
    "SENTRI_TRACES": _trace_mode,
    "SENTRI_MAX_BROWSERS": _int,
    "SENTRI_MAX_TOKENS_PER_PROJECT": _int,
    "SENTRI_JWT_TTL_HOURS": _int,
    "SENTRI_TEST_TIMEOUT_SECONDS": _int,
    "SENTRI_STEP_TIMEOUT_MS": _int,
    "SENTRI_CRAWL_MAX_SECONDS": _int,
    "SENTRI_SHUTDOWN_GRACE_SECONDS": _int,
    "SENTRI_HTTP_THREADS": _int,
    "SENTRI_WAIT_MAX_SECONDS": _int,
    "SENTRI_MAX_WAITERS": _int,
    "SENTRI_API_RATE_LIMIT": str,
    "SENTRI_ARTIFACT_RETENTION_DAYS": _int,
    "SENTRI_ARTIFACT_URL": str,
    "SENTRI_DEMO": _bool,
    "SENTRI_GITHUB_API_URL": str,
    "SENTRI_GITHUB_STATUS_CONTEXT": str,
    "SENTRI_GITHUB_RETRY_SECONDS": _int,
    "SENTRI_BROWSER_BLOCKED_NETWORKS": str,
    "SENTRI_LEASE_SECONDS": _int,
    "SENTRI_BROWSER_SERVERS": str,
    "SENTRI_BROWSER_SERVER_CHROMIUM": str,
    "SENTRI_BROWSER_PROBE_SECONDS": _int,
    "SENTRI_METRICS": _bool,
    "SENTRI_METRICS_TOKEN": str,
    "SENTRI_PASSWORD_HASH": str,
    "SENTRI_SMTP_URL": str,
}

DEFAULTS: dict[str, object] = {
    "SENTRI_DATABASE_URL": None,  # None: SQLite file sentri.db in the instance folder
    "SENTRI_HOST": "127.0.0.1",
    "SENTRI_PORT": 8000,
    "SENTRI_SECRET_KEY": None,  # None: generated once into instance/secret_key
    "SENTRI_PUBLIC_URL": None,
    "SENTRI_TRUSTED_PROXIES": 0,
    "SENTRI_TRIGGER_RATE_LIMIT": "20 per hour",
    "SENTRI_LOGIN_RATE_LIMIT": "10 per minute",
    "SENTRI_RATELIMIT_STORAGE_URI": "memory://",
    "SENTRI_CALLBACK_ALLOWLIST": "",
    "SENTRI_CHROMIUM_PATH": None,
    "SENTRI_MAX_BROWSERS": os.cpu_count() or 1,
    "SENTRI_MAX_TOKENS_PER_PROJECT": 10,
    "SENTRI_JWT_TTL_HOURS": 12,
    "SENTRI_TEST_TIMEOUT_SECONDS": 60,
    "SENTRI_STEP_TIMEOUT_MS": 15000,
    # A crawl's wall clock: past it, no new page starts and the crawl ends with what it found (a site of slow
    # pages cannot hold a worker, or a crawl: true run, for hours).
    "SENTRI_CRAWL_MAX_SECONDS": 600,
    "SENTRI_SHUTDOWN_GRACE_SECONDS": 10,
    # waitress threads; `wait: true` requests hold one each, capped below by SENTRI_MAX_WAITERS so
    # status polls, the API and the pages always keep threads of their own.
    "SENTRI_HTTP_THREADS": 16,
    "SENTRI_WAIT_MAX_SECONDS": 600,
    "SENTRI_MAX_WAITERS": 8,
    "SENTRI_API_RATE_LIMIT": "100 per minute",
    "SENTRI_ARTIFACT_RETENTION_DAYS": 30,
    # Where screenshots, traces and visual pictures are kept (stores/): None, the instance folder; or
    # s3://bucket/prefix, an S3-compatible bucket (endpoint and credentials: the standard AWS_* variables).
    "SENTRI_ARTIFACT_URL": None,
    "SENTRI_DEMO": True,  # first start creates the demo project next to the admin account
    # GitHub Enterprise Server: https://<host>/api/v3. Requests under it skip the private-address rule.
    "SENTRI_GITHUB_API_URL": "https://api.github.com",
    "SENTRI_GITHUB_STATUS_CONTEXT": "sentri",
    # How long one run's GitHub reporting may spend waiting out rate limits before it gives up.
    "SENTRI_GITHUB_RETRY_SECONDS": 120,
    # Networks the browser never reaches (origins.py): link-local, where cloud metadata lives.
    "SENTRI_BROWSER_BLOCKED_NETWORKS": DEFAULT_BLOCKED_NETWORKS,
    # How long a claimed test stays its worker's without the worker's process renewing it: the time
    # another process waits before it recovers the tests of a process that died.
    "SENTRI_LEASE_SECONDS": 15,
    # Playwright browser servers to run tests on instead of local browsers (worker/remote.py):
    # "ws://host:3000#4,ws://other:3000#4" (capacity after #, default 1). None: launch locally.
    "SENTRI_BROWSER_SERVERS": None,
    # The Chromium a browser server started with --unsafe should launch (a path on that server's machine);
    # None: the server's own browser (the official Playwright image has it).
    "SENTRI_BROWSER_SERVER_CHROMIUM": None,
    # How often every process checks every browser server, whether it has tests for it or not (worker/probe.py).
    "SENTRI_BROWSER_PROBE_SECONDS": 5,
    # When a Playwright trace is recorded (executor.py): "rerun" = a failed test is run once more with
    # tracing on, so passing tests pay nothing for it; "always" = every attempt is traced.
    "SENTRI_TRACES": "rerun",
    # GET /metrics (Prometheus text format) is served only when this is on; with a token, only to
    # `Authorization: Bearer <token>` (routes/health.py).
    "SENTRI_METRICS": False,
    "SENTRI_METRICS_TOKEN": None,
    # Where e-mail alerts go out: smtp://[user:password@]host[:port][?from=...] (STARTTLS when offered) or
    # smtps://...; None: e-mail channels cannot be made (notify/smtp.py).
    "SENTRI_SMTP_URL": None,
    "SENTRI_SQLITE_BUSY_TIMEOUT_MS": 15000,
    # werkzeug's password hashing method; the default is werkzeug's own (scrypt). Tests use a cheap one.
    "SENTRI_PASSWORD_HASH": "scrypt",
    "RATELIMIT_ENABLED": True,
    # Uploads (test imports) and JSON bodies larger than this are refused with 413 before being read.
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    # Flask pre-sets these, so they belong here rather than in derive()'s setdefaults.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(days=7),
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


def public_url(config: Mapping[str, object]) -> str:
    """The URL this server is reached at when no request says: SENTRI_PUBLIC_URL, else SENTRI_HOST:PORT."""
    configured = config.get("SENTRI_PUBLIC_URL")
    return str(configured or f"http://{config['SENTRI_HOST']}:{config['SENTRI_PORT']}").rstrip("/")


def derive(config: dict, instance_path: str) -> None:
    """Fill in the Flask and extension settings that follow from the SENTRI_* ones."""
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        url = config.get("SENTRI_DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'sentri.db'}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        config["SQLALCHEMY_DATABASE_URI"] = url
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = config.get("SENTRI_SECRET_KEY") or instance_secret_key(instance_path)
    check_secret_key(config["SECRET_KEY"], "SENTRI_SECRET_KEY" if config.get("SENTRI_SECRET_KEY")
                     else str(Path(instance_path) / "secret_key"))
    config.setdefault("RATELIMIT_STORAGE_URI", ratelimits.storage_uri(config["SENTRI_RATELIMIT_STORAGE_URI"]))
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    public = config.get("SENTRI_PUBLIC_URL") or ""
    if public.lower().startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True
    # CSRF tokens are checked by hand for cookie-authenticated API calls (see auth.py); the
    # form pages use Flask-WTF's global protection.
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    if not PASSWORD_METHOD.fullmatch(str(config["SENTRI_PASSWORD_HASH"])):
        raise ConfigError(f"SENTRI_PASSWORD_HASH={config['SENTRI_PASSWORD_HASH']!r} is not valid: use werkzeug's "
                          "'scrypt[:n:r:p]' or 'pbkdf2[:sha256[:iterations]]'")
    try:
        config["BROWSER_BLOCKED_NETWORKS"] = parse_networks(config["SENTRI_BROWSER_BLOCKED_NETWORKS"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    multiprocess = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess and not (os.path.isdir(multiprocess) and os.access(multiprocess, os.W_OK)):
        # prometheus_client writes every counter there: a missing folder would break claiming tests, not
        # only /metrics.
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={multiprocess} is not a writable directory: create it "
                          "(empty) before Sentri starts, or unset it.")
    if int(config["SENTRI_BROWSER_PROBE_SECONDS"]) < 1:
        raise ConfigError("SENTRI_BROWSER_PROBE_SECONDS must be a whole number of seconds, 1 or more.")
    try:
        url = config.get("SENTRI_ARTIFACT_URL")
        config["ARTIFACT_BUCKET"] = parse_artifact_url(url) if url else None
    except ValueError as exc:  # the value is not repeated: it may hold credentials written into it
        raise ConfigError(f"SENTRI_ARTIFACT_URL is not valid: {exc}") from None
    if config.get("SENTRI_SMTP_URL"):
        try:
            smtp_relay.parse(config["SENTRI_SMTP_URL"])
        except ValueError as exc:  # the value is not repeated: it holds the relay's password
            raise ConfigError(f"SENTRI_SMTP_URL {exc}") from None
    try:
        config["BROWSER_SERVERS"] = [(e.url, e.capacity) for e in parse_servers(config.get("SENTRI_BROWSER_SERVERS"))]
    except ValueError as exc:
        raise ConfigError(f"SENTRI_BROWSER_SERVERS: {exc}") from None
    check_when_used(config)


def check_when_used(config: Mapping[str, object]) -> None:
    """Parse now what is otherwise read only when used (a rate limit at the first request it limits, the
    allowlist at the first callback): a bad value stops the start with one line, not a request later."""
    for name in ("SENTRI_TRIGGER_RATE_LIMIT", "SENTRI_LOGIN_RATE_LIMIT", "SENTRI_API_RATE_LIMIT"):
        try:
            parse_many(str(config[name]))
        except ValueError:
            raise ConfigError(f"{name}={config[name]!r} is not a rate limit: write it like '20 per hour' or "
                              "'100/minute' (several with ';')") from None
    try:
        Allowlist.parse(str(config.get("SENTRI_CALLBACK_ALLOWLIST") or ""))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
