"""Engine set-up: SQLite pragmas and transaction modes; write() is the one way to write."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, event
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable

from .extensions import db

# Python's sqlite3 opens a transaction with a plain (deferred) BEGIN: the first read takes a shared
# lock and a later write must upgrade it, which fails at once with "database is locked" when another
# connection wrote in between, whatever the busy timeout. So every write goes through write(): it
# ends the session's read transaction and begins a fresh one with BEGIN IMMEDIATE (writers then queue
# on the busy timeout). Everything else begins DEFERRED: in WAL mode readers never block anyone, and
# a request that only reads (a status poll) never holds the write lock.
_begin_mode: contextvars.ContextVar[str] = contextvars.ContextVar("sentri_begin_mode", default="DEFERRED")
_AFTER_WRITE = "sentri_after_write"


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
def write() -> Iterator[None]:
    """Run a block in a fresh IMMEDIATE transaction: end the current one, commit on success; then run what
    the block left for after its commit (after_write), in this thread, outside the transaction."""
    session = db.session
    session.commit()  # end any read snapshot first: a deferred reader must never upgrade to a writer
    token = _begin_mode.set("IMMEDIATE")
    try:
        yield
        session.commit()
    except BaseException:
        session.info.pop(_AFTER_WRITE, None)
        session.rollback()
        raise
    finally:
        _begin_mode.reset(token)
    for then in session.info.pop(_AFTER_WRITE, ()):
        then()


def after_write(then: Callable[[], None]) -> None:
    """Run `then` once the current write() block has committed, after it has let go of the write lock (a
    rolled back block drops it)."""
    db.session.info.setdefault(_AFTER_WRITE, []).append(then)


def changed(statement: Executable) -> int:
    """Execute an UPDATE or DELETE in the current session and return how many rows it changed."""
    result = db.session.execute(statement)
    return cast("CursorResult[Any]", result).rowcount
