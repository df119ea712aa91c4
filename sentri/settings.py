"""Every setting Sentri reads, declared once (its type, default and sentence), and the typed object the code
reads them from: `settings()` (the current app's) or `settings(app)`.

create_app merges the layers into `app.config` (these defaults, then `config.py` in the instance folder, then
the `SENTRI_*` environment, then a test's config: config.py), and `Settings.load` parses every setting once,
at start: a value Sentri cannot use stops the start with one line naming it (ConfigError). A field's
environment variable is its name in capitals after `SENTRI_` (`lease_seconds` is `SENTRI_LEASE_SECONDS`).
docs/configuration.md is generated from this module (config_docs.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Any

from flask import Flask
from limits import parse_many

from .notify import smtp as smtp_relay
from .origins import DEFAULT_BLOCKED_NETWORKS, parse_networks
from .runtime import runtime
from .ssrf import Allowlist
from .stores import parse_url as parse_artifact_url
from .worker.remote import parse_servers

if TYPE_CHECKING:
    from .stores import BucketAddress


class ConfigError(RuntimeError):
    """A setting Sentri cannot start with; the message says which and what to do."""


TRACE_MODES = ("rerun", "always")
# werkzeug.security's method strings: scrypt (its default) or pbkdf2, with their optional costs.
PASSWORD_METHOD = re.compile(r"scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha(256|512)(:\d+)?)?")


def _trace_mode(value: str) -> str:
    value = value.strip().lower()
    if value not in TRACE_MODES:
        raise ValueError(f"must be one of {', '.join(TRACE_MODES)}")
    return value


def _setting(
    default: Any, doc: str, parse: Callable[[str], Any] | None = None, *, secret: bool = False
) -> Any:
    """A setting: its default, its sentence in docs/configuration.md, how its text is parsed when its type
    does not say, and whether it may hold a credential (then no repr of the settings shows it)."""
    return field(default=default, metadata={"doc": doc, "parse": parse}, repr=not secret)


# A value Settings.load makes from a setting (its parsed form), not a setting of its own.
DERIVED = {"derived": True}


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str | None = _setting(
        None,
        "Unset: SQLite in the instance folder (one process). `postgresql://...` lets several processes serve "
        "one database.",
        secret=True,
    )
    host: str = _setting(
        "127.0.0.1",
        "The address `python app.py` listens on.",
    )
    port: int = _setting(
        8000,
        "The port `python app.py` listens on.",
    )
    secret_key: str | None = _setting(
        None,
        "Signs sessions and API tokens and encrypts environment secrets; at least 32 bytes. Unset: generated "
        "once into `instance/secret_key`. Every replica needs the same one.",
        secret=True,
    )
    public_url: str | None = _setting(
        None,
        "The URL people and CI reach this server at (links in callbacks, PR comments, alerts). `https://...` "
        "also makes the session cookie Secure and sends HSTS.",
    )
    trusted_proxies: int = _setting(
        0,
        "How many proxies in front whose `X-Forwarded-*` headers are believed.",
    )
    trigger_rate_limit: str = _setting(
        "20 per hour",
        "Triggers allowed per token (`20 per hour`, `100/minute`; several with `;`).",
    )
    login_rate_limit: str = _setting(
        "10 per minute",
        "Login and password-change attempts allowed per client address.",
    )
    ratelimit_storage_uri: str = _setting(
        "memory://",
        "Where rate-limit counters live: `memory://` for one process, `redis://host:6379/0` for several.",
        secret=True,
    )
    callback_allowlist: str = _setting(
        "",
        "Hosts, addresses and networks a callback (or GitHub Enterprise) may reach although they are private:"
        " `ci.internal,10.0.0.0/8`.",
    )
    chromium_path: str | None = _setting(
        None,
        "The Chromium to launch. Unset: Playwright's own, else a system one (its headless shell first).",
    )
    traces: str = _setting(
        "rerun",
        "`rerun`: a failed test is run once more to record its Playwright trace (passing tests pay nothing); "
        "`always`: every attempt is traced.",
        parse=_trace_mode,
    )
    max_browsers: int = _setting(
        os.cpu_count() or 1,
        "Browser workers of this process (tests run at once here). Default: the CPU count.",
    )
    max_tokens_per_project: int = _setting(
        10,
        "Trigger tokens a project may have.",
    )
    jwt_ttl_hours: int = _setting(
        12,
        "How long an API login (JWT) lasts.",
    )
    test_timeout_seconds: int = _setting(
        60,
        "One attempt of a test, all its steps together.",
    )
    step_timeout_ms: int = _setting(
        15000,
        "One step's wait for its element or page, unless the step sets `timeout`.",
    )
    crawl_max_seconds: int = _setting(
        600,
        "A crawl's wall clock; it is kept during pages too, not only between them.",
    )
    shutdown_grace_seconds: int = _setting(
        10,
        "On SIGTERM or SIGINT, how long running tests may finish before they are handed back to the database.",
    )
    http_threads: int = _setting(
        16,
        "waitress threads serving requests.",
    )
    wait_max_seconds: int = _setting(
        600,
        "The longest a `wait: true` trigger holds its request.",
    )
    max_waiters: int = _setting(
        8,
        "How many `wait: true` requests may be held at once (more get 503), so polls and pages keep threads "
        "of their own.",
    )
    api_rate_limit: str = _setting(
        "100 per minute",
        "Status polls and other token calls allowed per token.",
    )
    artifact_retention_days: int = _setting(
        30,
        "Screenshots, traces and unused visual pictures older than this are pruned.",
    )
    artifact_url: str | None = _setting(
        None,
        "Unset: artifacts in the instance folder. `s3://bucket/prefix`: an S3-compatible bucket every replica"
        " serves (endpoint and credentials: the standard `AWS_*` variables).",
        secret=True,
    )
    demo: bool = _setting(
        True,
        "On the first start, create a demo project next to the admin account.",
    )
    github_api_url: str = _setting(
        "https://api.github.com",
        "GitHub's REST API; `https://host/api/v3` for GitHub Enterprise Server (trusted like an allowlisted "
        "host).",
    )
    github_status_context: str = _setting(
        "sentri",
        "The context of the commit status Sentri posts.",
    )
    github_retry_seconds: int = _setting(
        120,
        "How long one run's GitHub reporting may wait out rate limits.",
    )
    browser_blocked_networks: str = _setting(
        DEFAULT_BLOCKED_NETWORKS,
        "Networks the browser never connects to, every redirect hop included (`none` for none). Default: "
        "link-local and cloud metadata addresses.",
    )
    lease_seconds: int = _setting(
        15,
        "How long a claimed test stays its process's without a renewal: what another process waits before it "
        "recovers the tests of one that died.",
    )
    browser_servers: str | None = _setting(
        None,
        "Playwright browser servers to run tests on instead of local browsers: "
        "`ws://host:3000#4,ws://other:3000#4` (tests at once after `#`). Shown as host:port.",
        secret=True,
    )
    browser_server_chromium: str | None = _setting(
        None,
        "The Chromium a browser server started with `--unsafe` should launch.",
    )
    browser_probe_seconds: int = _setting(
        5,
        "How often every process checks every browser server (a WebSocket handshake, no browser launched), "
        "busy or idle; at least 1.",
    )
    metrics: bool = _setting(
        False,
        "Serve Prometheus metrics at `/metrics`.",
    )
    metrics_token: str | None = _setting(
        None,
        "When set, `/metrics` needs `Authorization: Bearer <token>`.",
        secret=True,
    )
    password_hash: str = _setting(
        "scrypt",
        "werkzeug's password hashing method: `scrypt`, or `pbkdf2[:sha256[:iterations]]`.",
    )
    smtp_url: str | None = _setting(
        None,
        "Where e-mail alerts go out: `smtp://user:password@host:587?from=sentri%40example.com` (STARTTLS when"
        " offered, `&starttls=require` to insist; a password only over TLS or to a loopback relay) or "
        "`smtps://...`. Unset: e-mail channels cannot be made.",
        secret=True,
    )
    sqlite_busy_timeout_ms: int = _setting(
        15000,
        "How long a write waits for SQLite's one write lock before it fails.",
    )

    # Parsed from the settings above by load().
    blocked_networks: tuple[IPv4Network | IPv6Network, ...] = field(default=(), metadata=DERIVED, repr=False)
    allowlist: Allowlist = field(default_factory=lambda: Allowlist.parse(""), metadata=DERIVED, repr=False)
    artifact_bucket: BucketAddress | None = field(default=None, metadata=DERIVED, repr=False)
    browser_server_list: tuple[tuple[str, int], ...] = field(default=(), metadata=DERIVED, repr=False)

    @classmethod
    def load(cls, config: Mapping[str, Any]) -> Settings:
        """Parse and check every setting in `config` (app.config with its layers merged): the one place
        a bad value is found, named in one line."""
        values = {
            spec.name: _coerce(spec, config.get(env_name(spec.name), spec.default)) for spec in fields()
        }
        made = cls(**values)
        return dataclasses.replace(made, **_derive(made))


def fields() -> list[dataclasses.Field]:
    """The settings, in the order docs/configuration.md lists them (derived values left out)."""
    return [spec for spec in dataclasses.fields(Settings) if not spec.metadata.get("derived")]


def env_name(field_name: str) -> str:
    return f"SENTRI_{field_name.upper()}"


def defaults() -> dict[str, Any]:
    """Each setting's default under its configuration name: the first layer create_app applies."""
    return {env_name(spec.name): spec.default for spec in fields()}


def parser(spec: dataclasses.Field) -> Callable[[str], Any]:
    """How the setting's text (an environment variable) is read."""
    if spec.metadata.get("parse"):
        return spec.metadata["parse"]
    kind = str(spec.type).removesuffix(" | None")
    return {"int": _int, "bool": _bool}.get(kind, str)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str) -> int:
    return int(value.strip())


def _coerce(spec: dataclasses.Field, value: Any) -> Any:
    """A value from any layer as the setting's type: text is parsed as the environment's would be."""
    name = env_name(spec.name)
    if value is None or value == "":
        return None if "None" in str(spec.type) else spec.default
    if isinstance(value, str):
        try:
            return parser(spec)(value)
        except ValueError as exc:
            raise ConfigError(f"{name}={value!r} is not valid: {exc}") from None
    kind = str(spec.type).removesuffix(" | None")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name}={value!r} is not valid: a whole number is needed")
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} is not valid: true or false is needed")
    return value


def _derive(made: Settings) -> dict[str, Any]:
    """Check what needs more than a type, and parse what the code uses parsed."""
    if not PASSWORD_METHOD.fullmatch(made.password_hash):
        raise ConfigError(
            f"SENTRI_PASSWORD_HASH={made.password_hash!r} is not valid: use werkzeug's "
            "'scrypt[:n:r:p]' or 'pbkdf2[:sha256[:iterations]]'"
        )
    if made.browser_probe_seconds < 1:
        raise ConfigError("SENTRI_BROWSER_PROBE_SECONDS must be a whole number of seconds, 1 or more.")
    for name in ("trigger_rate_limit", "login_rate_limit", "api_rate_limit"):
        value = getattr(made, name)
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f"{env_name(name)}={value!r} is not a rate limit: write it like '20 per hour' or "
                "'100/minute' (several with ';')"
            ) from None
    try:
        networks = tuple(parse_networks(made.browser_blocked_networks))
        allowlist = Allowlist.parse(made.callback_allowlist or "")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        bucket = parse_artifact_url(made.artifact_url) if made.artifact_url else None
    except ValueError as exc:  # the value is not repeated: it may hold credentials written into it
        raise ConfigError(f"SENTRI_ARTIFACT_URL is not valid: {exc}") from None
    if made.smtp_url:
        try:
            smtp_relay.parse(made.smtp_url)
        except ValueError as exc:  # the value is not repeated: it holds the relay's password
            raise ConfigError(f"SENTRI_SMTP_URL {exc}") from None
    try:
        servers = tuple((entry.url, entry.capacity) for entry in parse_servers(made.browser_servers))
    except ValueError as exc:
        raise ConfigError(f"SENTRI_BROWSER_SERVERS: {exc}") from None
    return {
        "blocked_networks": networks,
        "allowlist": allowlist,
        "artifact_bucket": bucket,
        "browser_server_list": servers,
    }


def settings(app: Flask | None = None) -> Settings:
    """The app's settings (the current app's by default), parsed at start."""
    return runtime(app).settings
