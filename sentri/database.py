"""Engine set-up: SQLite pragmas and transaction modes, one place for writes."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

# Python's sqlite3 opens a transaction with a plain (deferred) BEGIN: the first read takes a shared
# lock and a later write must upgrade it, which fails at once with "database is locked" when another
# connection wrote in between, whatever the busy timeout. Sentri therefore begins every transaction
# with BEGIN IMMEDIATE (the busy timeout then queues writers), except read-only request handlers
# (GET/HEAD), which ask for DEFERRED so status polls never wait behind the run engine's writes.
_begin_mode: contextvars.ContextVar[str] = contextvars.ContextVar("sentri_begin_mode", default="IMMEDIATE")


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Install the SQLite connection and transaction hooks on an engine (no-op for other databases)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from the sqlite3 module so our BEGIN is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(f"BEGIN {_begin_mode.get()}")


@contextmanager
def read_only() -> Iterator[None]:
    """Open the session's next transactions as DEFERRED (read) transactions."""
    token = _begin_mode.set("DEFERRED")
    try:
        yield
    finally:
        _begin_mode.reset(token)


def begin_read_only() -> contextvars.Token:
    """Make this context's transactions DEFERRED until end_read_only is called with the token."""
    return _begin_mode.set("DEFERRED")


def end_read_only(token: contextvars.Token) -> None:
    """Restore the transaction mode saved by begin_read_only."""
    _begin_mode.reset(token)


@contextmanager
def write() -> Iterator[None]:
    """Run a block in a fresh IMMEDIATE transaction: end the current one, commit on success."""
    session = db.session
    session.commit()  # end any read snapshot first: a deferred reader must never upgrade to a writer
    token = _begin_mode.set("IMMEDIATE")
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _begin_mode.reset(token)
