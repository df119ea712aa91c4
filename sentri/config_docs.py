"""What each setting does, in one place: docs/configuration.md is generated from it
(`python -m sentri.config_docs > docs/configuration.md`), and tests/test_config.py fails when a setting Sentri
reads has no sentence here or the page is out of date."""

from __future__ import annotations

import sys

from .config import DEFAULTS, ENVIRONMENT

DOCS: dict[str, str] = {
    "SENTRI_INSTANCE_PATH": "The instance folder: the SQLite database, the secret key and the artifacts. Read "
                            "before anything else, since `config.py` in it is the second layer of settings.",
    "SENTRI_DATABASE_URL": "Unset: SQLite in the instance folder (one process). `postgresql://...` lets several "
                           "processes serve one database.",
    "SENTRI_HOST": "The address `python app.py` listens on.",
    "SENTRI_PORT": "The port `python app.py` listens on.",
    "SENTRI_SECRET_KEY": "Signs sessions and API tokens and encrypts environment secrets; at least 32 bytes. "
                         "Unset: generated once into `instance/secret_key`. Every replica needs the same one.",
    "SENTRI_PUBLIC_URL": "The URL people and CI reach this server at (links in callbacks, PR comments, alerts). "
                         "`https://...` also makes the session cookie Secure and sends HSTS.",
    "SENTRI_TRUSTED_PROXIES": "How many proxies in front whose `X-Forwarded-*` headers are believed.",
    "SENTRI_TRIGGER_RATE_LIMIT": "Triggers allowed per token (`20 per hour`, `100/minute`; several with `;`).",
    "SENTRI_LOGIN_RATE_LIMIT": "Login and password-change attempts allowed per client address.",
    "SENTRI_API_RATE_LIMIT": "Status polls and other token calls allowed per token.",
    "SENTRI_RATELIMIT_STORAGE_URI": "Where rate-limit counters live: `memory://` for one process, "
                                    "`redis://host:6379/0` for several.",
    "SENTRI_CALLBACK_ALLOWLIST": "Hosts, addresses and networks a callback (or GitHub Enterprise) may reach "
                                 "although they are private: `ci.internal,10.0.0.0/8`.",
    "SENTRI_CHROMIUM_PATH": "The Chromium to launch. Unset: Playwright's own, else a system Chromium.",
    "SENTRI_TRACES": "`rerun`: a failed test is run once more to record its Playwright trace (passing tests pay "
                     "nothing); `always`: every attempt is traced.",
    "SENTRI_MAX_BROWSERS": "Browser workers of this process (tests run at once here). Default: the CPU count.",
    "SENTRI_MAX_TOKENS_PER_PROJECT": "Trigger tokens a project may have.",
    "SENTRI_JWT_TTL_HOURS": "How long an API login (JWT) lasts.",
    "SENTRI_TEST_TIMEOUT_SECONDS": "One attempt of a test, all its steps together.",
    "SENTRI_STEP_TIMEOUT_MS": "One step's wait for its element or page, unless the step sets `timeout`.",
    "SENTRI_CRAWL_MAX_SECONDS": "A crawl's wall clock; it is kept during pages too, not only between them.",
    "SENTRI_SHUTDOWN_GRACE_SECONDS": "On SIGTERM or SIGINT, how long running tests may finish before they are "
                                     "handed back to the database.",
    "SENTRI_HTTP_THREADS": "waitress threads serving requests.",
    "SENTRI_WAIT_MAX_SECONDS": "The longest a `wait: true` trigger holds its request.",
    "SENTRI_MAX_WAITERS": "How many `wait: true` requests may be held at once (more get 503), so polls and "
                          "pages keep threads of their own.",
    "SENTRI_ARTIFACT_RETENTION_DAYS": "Screenshots, traces and unused visual pictures older than this are pruned.",
    "SENTRI_ARTIFACT_URL": "Unset: artifacts in the instance folder. `s3://bucket/prefix`: an S3-compatible "
                           "bucket every replica serves (endpoint and credentials: the standard `AWS_*` variables).",
    "SENTRI_DEMO": "On the first start, create a demo project next to the admin account.",
    "SENTRI_GITHUB_API_URL": "GitHub's REST API; `https://host/api/v3` for GitHub Enterprise Server (trusted "
                             "like an allowlisted host).",
    "SENTRI_GITHUB_STATUS_CONTEXT": "The context of the commit status Sentri posts.",
    "SENTRI_GITHUB_RETRY_SECONDS": "How long one run's GitHub reporting may wait out rate limits.",
    "SENTRI_BROWSER_BLOCKED_NETWORKS": "Networks the browser never connects to, every redirect hop included "
                                       "(`none` for none). Default: link-local and cloud metadata addresses.",
    "SENTRI_LEASE_SECONDS": "How long a claimed test stays its process's without a renewal: what another process "
                            "waits before it recovers the tests of one that died.",
    "SENTRI_BROWSER_SERVERS": "Playwright browser servers to run tests on instead of local browsers: "
                              "`ws://host:3000#4,ws://other:3000#4` (tests at once after `#`). Shown as host:port.",
    "SENTRI_BROWSER_PROBE_SECONDS": "How often every process checks every browser server (a WebSocket handshake, "
                                    "no browser launched), busy or idle; at least 1.",
    "SENTRI_BROWSER_SERVER_CHROMIUM": "The Chromium a browser server started with `--unsafe` should launch.",
    "SENTRI_METRICS": "Serve Prometheus metrics at `/metrics`.",
    "SENTRI_METRICS_TOKEN": "When set, `/metrics` needs `Authorization: Bearer <token>`.",
    "SENTRI_PASSWORD_HASH": "werkzeug's password hashing method: `scrypt`, or `pbkdf2[:sha256[:iterations]]`.",
    "SENTRI_SMTP_URL": "Where e-mail alerts go out: `smtp://user:password@host:587?from=sentri%40example.com` "
                       "(STARTTLS when offered, `&starttls=require` to insist; a password only over TLS or to a "
                       "loopback relay) or `smtps://...`. Unset: e-mail channels cannot be made.",
    "PROMETHEUS_MULTIPROC_DIR": "With several processes on one machine, an empty writable folder where "
                                "prometheus_client sums their counters.",
    "MALLOC_ARENA_MAX": "glibc's malloc arenas; `python app.py` sets 2 unless this says otherwise (flat memory).",
}
# Read straight from the environment, not through ENVIRONMENT (they matter before the settings are read).
ALSO_READ = ("SENTRI_INSTANCE_PATH", "PROMETHEUS_MULTIPROC_DIR", "MALLOC_ARENA_MAX")


def documented() -> list[str]:
    """Every setting Sentri reads, in the order the page lists them."""
    return [*ALSO_READ[:1], *ENVIRONMENT, *ALSO_READ[1:]]


def _default(name: str) -> str:
    if name == "SENTRI_MAX_BROWSERS":
        return "the CPU count"
    value = DEFAULTS.get(name)
    return "unset" if value in (None, "") else f"`{str(value).lower() if isinstance(value, bool) else value}`"


def markdown() -> str:
    """The text of docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting is read once, at start, in this order: Sentri's defaults, then `config.py` in the instance",
        "folder (the same names), then the environment. A value Sentri cannot use stops the start with one line",
        "naming the setting. Generated from `sentri/config_docs.py`: `python -m sentri.config_docs > "
        "docs/configuration.md`.",
        "",
        "| setting | default | what it does |",
        "|---|---|---|",
    ]
    for name in documented():
        lines.append(f"| `{name}` | {_default(name)} | {DOCS[name]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
