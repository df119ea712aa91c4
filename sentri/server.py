"""Start-up: migrate, first-run set-up, then serve with waitress. Called by `python app.py`."""

from __future__ import annotations

import logging

import click
from flask import Flask

log = logging.getLogger("sentri")


def prepare(app: Flask) -> None:
    """Apply migrations and run the first-start set-up; print how to log in the one time it happens."""
    from flask_migrate import upgrade

    from .bootstrap import first_run

    with app.app_context():
        upgrade()
        created = first_run(app)
    if created is None:
        return
    base = app.config.get("SENTRI_PUBLIC_URL") or f"http://{app.config['SENTRI_HOST']}:{app.config['SENTRI_PORT']}"
    lines = [
        "",
        "Sentri is set up. This is shown once; the password is not stored in plaintext anywhere.",
        f"  Log in at {base}/login",
        f"  email:    {created.email}",
        f"  password: {created.password}",
    ]
    if created.demo_project_id:
        lines.append(
            f"  Demo project {created.demo_project_id} is ready; see README.md 'First run' to trigger it."
        )
    click.echo("\n".join(lines) + "\n")


def serve(app: Flask) -> None:
    """Serve the app with waitress on SENTRI_HOST:SENTRI_PORT."""
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare(app)
    host, port = app.config["SENTRI_HOST"], app.config["SENTRI_PORT"]
    # Printed, not logged: Alembic's logging config (migrations/alembic.ini) has just set the root level.
    click.echo(f"Sentri serving on http://{host}:{port} (Ctrl+C to stop)")
    waitress.serve(app, host=host, port=port, ident="sentri", threads=app.config.get("SENTRI_HTTP_THREADS", 16))
