"""Start-up and shut-down around waitress: migrate, first-run set-up, recover runs a previous
process left active, warm the browser workers, serve; on SIGTERM/SIGINT let tests finish briefly."""

from __future__ import annotations

import logging
import signal

import click
from flask import Flask

log = logging.getLogger("sentri")


def recover(app: Flask) -> list[int]:
    """Fail the runs a previous process left active (releasing their locks) and send their callbacks."""
    from . import runs

    with app.app_context():
        failed = runs.fail_interrupted(runs.RESTARTED)
    engine = app.extensions["sentri_engine"]
    for run_id in failed:
        engine.notify_finished(run_id)
    if failed:
        log.warning("marked %d run(s) left active by a previous process as failed", len(failed))
    return failed


def prepare(app: Flask) -> None:
    """Apply migrations, run first-start set-up (printing the login the one time it happens), recover."""
    from flask_migrate import upgrade

    from .bootstrap import first_run, refresh_demo_url

    with app.app_context():
        upgrade()
        created = first_run(app)
        refresh_demo_url(app)
    recover(app)
    from .artifacts import prune

    prune(app)
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


def stop_engine(app: Flask) -> None:
    """Let running tests finish for SENTRI_SHUTDOWN_GRACE_SECONDS, then fail what is left."""
    from . import runs

    engine = app.extensions["sentri_engine"]
    unfinished = engine.shutdown(app.config["SENTRI_SHUTDOWN_GRACE_SECONDS"])
    with app.app_context():
        for run_id in unfinished:
            if runs.finish(run_id, "failed", runs.STOPPED):
                engine.notify_finished(run_id)
        # Runs still queued in the database (none of their tests reached a worker) end the same way.
        for run_id in runs.fail_interrupted(runs.STOPPED):
            engine.notify_finished(run_id)
    # A receiver may take its whole deadline to answer: wait for callbacks at most the grace.
    abandoned = engine.callbacks.shutdown(app.config["SENTRI_SHUTDOWN_GRACE_SECONDS"])
    if abandoned:
        click.echo(f"Sentri gave up on {abandoned} callback(s) still being sent after the grace.")
    engine.notifier.shutdown(wait=True)
    app.extensions["sentri_github"].shutdown()


def serve(app: Flask) -> None:
    """Serve the app with waitress on SENTRI_HOST:SENTRI_PORT until SIGTERM or SIGINT."""
    from waitress.server import create_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare(app)
    app.extensions["sentri_engine"].start()
    host, port = app.config["SENTRI_HOST"], app.config["SENTRI_PORT"]
    server = create_server(app, host=host, port=port, ident="sentri", threads=app.config["SENTRI_HTTP_THREADS"])

    def _stop(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _stop)
    # Printed, not logged: Alembic's logging config (migrations/alembic.ini) has set the root level.
    click.echo(f"Sentri serving on http://{host}:{port} (Ctrl+C to stop)")
    try:
        server.run()  # returns on KeyboardInterrupt / SystemExit, having closed its sockets
    finally:
        click.echo("Sentri stopping: letting running tests finish...")
        stop_engine(app)
        click.echo("Sentri stopped.")
