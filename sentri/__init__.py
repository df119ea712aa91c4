"""Sentri: a self-hosted browser regression-testing server that CI pipelines trigger."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .cli import register_cli
from .database import configure_engine
from .errors import register_error_handlers
from .extensions import csrf, db, limiter, migrate
from .routes import register_blueprints
from .runtime import install as install_runtime
from .stores import open_store
from .validation import JSONProvider

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# A year, browsers' usual floor for trusting it; no includeSubDomains: Sentri does not own its neighbours.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def _instance_path() -> str:
    configured = os.environ.get("SENTRI_INSTANCE_PATH")
    return str(Path(configured).resolve()) if configured else str(PROJECT_ROOT / "instance")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config in its fixed order, then extensions, blueprints, CLI and error handlers."""
    instance_path = (test_config or {}).get("SENTRI_INSTANCE_PATH") or _instance_path()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.json = JSONProvider(app)  # every JSON body is depth-limited, however a view reads it

    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config_module.from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    settings = config_module.derive(app.config, app.instance_path)

    proxies = settings.trusted_proxies
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    # The limiter's before-request hook must run first: a throttled client is refused before any work.
    limiter.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        configure_engine(db.engine, settings.sqlite_busy_timeout_ms)

    try:
        artifacts = open_store(settings, app.instance_path)
    except OSError as exc:  # a bucket whose AWS_* settings boto3 cannot use
        raise config_module.ConfigError(f"SENTRI_ARTIFACT_URL={settings.artifact_url}: {exc}") from None
    # Made with the app and started by `serve` (runtime.start): no thread runs until then.
    install_runtime(app, settings, artifacts)

    register_error_handlers(app)
    register_blueprints(app)

    register_cli(app)

    # Only a server that says it is reached over https may tell browsers to insist on it.
    hsts = (settings.public_url or "").lower().startswith("https://")

    @app.after_request
    def _security_headers(response):
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app
