"""Start-up and shut-down around waitress: migrate, first-run set-up, start the engine (which recovers
what dead processes left, by their expired leases), serve; on SIGTERM/SIGINT let this process's running
tests finish within the grace and hand the rest back to the database."""

from __future__ import annotations

import ctypes
import fcntl
import gc
import logging
import os
import signal
import sys
from pathlib import Path

import click
from flask import Flask
from flask_migrate import upgrade
from waitress.server import create_server

from .artifacts import prune
from .bootstrap import first_run, refresh_demo_url
from .config import ConfigError, public_url
from .runtime import runtime
from .settings import settings
from .stores import artifact_store

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
M_ARENA_MAX = -8  # glibc's mallopt() parameter, the one MALLOC_ARENA_MAX sets


def limit_malloc_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX=2 would; call it before any thread starts.

    glibc gives threads that allocate at once arenas of their own (up to eight per core) and rarely hands
    their freed memory back, so a server of request threads, browser workers and hooks grows by
    fragmentation: bench/memory.py measured the server's RSS at 1.13x from 5 to 50 runs of 20 tests with
    the default, 1.05x with two arenas (same machine, same runs). A no-op off glibc, or when the
    environment sets MALLOC_ARENA_MAX itself. Returns whether the cap was set."""
    if sys.platform != "linux" or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, count) == 1
    except (OSError, AttributeError):  # musl or another libc: nothing to cap
        return False


def prepare(app: Flask) -> None:
    """Check the artifact store, apply migrations, run first-start set-up (printing the login the one time it
    happens), prune artifacts."""
    try:
        artifact_store(
            app
        ).check()  # a bucket that is missing or refused stops the start, not a failure later
    except OSError as exc:
        raise ConfigError(f"SENTRI_ARTIFACT_URL={settings(app).artifact_url}: {exc}") from None
    with app.app_context():
        upgrade()
        created = first_run(app)
        refresh_demo_url(app)
    prune(app)
    if created is None:
        return
    base = public_url(settings(app))
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
    """Let this process's running tests finish for SENTRI_SHUTDOWN_GRACE_SECONDS, hand the rest back
    (re-queued: another process, or this one's next start, runs them), and send what is due."""
    # A receiver may take its whole deadline to answer: callbacks too get at most the grace.
    abandoned = runtime(app).stop(settings(app).shutdown_grace_seconds)
    if abandoned:
        click.echo(f"Sentri gave up on {abandoned} callback(s) still being sent after the grace.")


def warn_if_sqlite_is_shared(app: Flask):
    """SQLite is for one process: say so when another Sentri process already serves this database file.
    Return the open lock file (held for the life of the process), or None on another database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        return None
    lock = open(Path(url.removeprefix("sqlite:///") + ".serving.lock"), "a")  # noqa: SIM115 - held open
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log.warning(
            "another Sentri process is serving this SQLite database; SQLite is meant for one process "
            "(both share its runs, but their writes queue behind each other): use PostgreSQL "
            "(SENTRI_DATABASE_URL) to run several processes"
        )
    return lock


def configure_logging() -> None:
    """INFO and up to stderr, one line each. Called after the migrations: Alembic's fileConfig
    (migrations/alembic.ini) sets the root logger to WARNING, which would silence every INFO line after it."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)


def serve(app: Flask) -> None:
    """Serve the app with waitress on SENTRI_HOST:SENTRI_PORT until SIGTERM or SIGINT."""
    prepare(app)
    configure_logging()
    sqlite_lock = warn_if_sqlite_is_shared(app)  # noqa: F841 - held open while serving
    services = runtime(app)
    engine = services.engine
    services.start()
    host, port = settings(app).host, settings(app).port
    server = create_server(app, host=host, port=port, ident="sentri", threads=settings(app).http_threads)
    stops: list[str] = []

    def _stop(signum, _frame):
        # SIGTERM or SIGINT, to this process or its whole group (Ctrl+C, systemd, a supervisor): the first
        # says stop, and the engine knows at once (Playwright's driver may be dying of the same signal); a
        # second is logged and changes nothing, so the stop in progress finishes in order.
        name = signal.Signals(signum).name
        if stops:
            log.info("%s: already stopping", name)
            return
        stops.append(name)
        services.begin_stop()
        raise KeyboardInterrupt(name)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("serving on http://%s:%s as %s (%s browser slots)", host, port, engine.node_id, engine.size)
    click.echo(f"Sentri serving on http://{host}:{port} (Ctrl+C to stop)")
    # What start-up made (the app, its modules, SQLAlchemy's mappers, the browsers' Playwright objects) lives as
    # long as the process: kept out of the collector's full passes, which otherwise walked all of it. A status
    # poll waited behind one of those (128 ms) once in every 15 s at 100 polls/s; bench/api_throughput.py
    # --open-loop shows the p99 before and after.
    gc.freeze()
    try:
        server.run()  # returns on KeyboardInterrupt / SystemExit, having closed its sockets
    except KeyboardInterrupt:
        pass  # the signal handler's way out of waitress's loop
    finally:
        click.echo("Sentri stopping: letting running tests finish...")
        log.info(
            "stopping (%s): running tests have %ss to finish, the rest are handed back",
            stops[0] if stops else "exit",
            settings(app).shutdown_grace_seconds,
        )
        stop_engine(app)
        log.info("stopped")
        click.echo("Sentri stopped.")
