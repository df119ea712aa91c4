"""A browser server's capacity shared by every Sentri process on one database: its `#n` is n slot rows, each
leased to one worker of one process while that worker runs a test (or a crawl) there.

take()     in the transaction that claims the test (queue/claims.py, queue/crawls.py), or in one of its own when
           a worker moves to another server: the first free slot (no owner, or a lease that ran out) of the
           endpoint the pool prefers that has one. SQLite serialises takers with the claim's BEGIN IMMEDIATE;
           PostgreSQL locks the slot row FOR UPDATE SKIP LOCKED, so two processes never hold one slot and
           neither waits for the other.
renew()    the heartbeat extends the leases of its live workers' slots, as it does their tests'.
release()  the worker gives its slot back once the test's contexts are closed; release_all() on shutdown.
A process that dies leaves its leases to run out: an expired lease is a free slot to take() and busy() never
counts it, so nothing needs to recover them.

Endpoints are told apart by key(): an HMAC of the URL under the secret key every replica shares (as they
must: it signs their sessions and tokens), so the URL's credentials never reach the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Integer, String, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from ..database import write
from ..extensions import db
from ..timestamps import UTCDateTime, utcnow


class BrowserSlot(db.Model):
    """One slot of a browser server, free or leased to a worker of a process."""

    __tablename__ = "browser_slots"

    server: Mapped[str] = mapped_column(String(64), primary_key=True)  # key() of the endpoint's URL
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0 .. capacity - 1
    endpoint: Mapped[str] = mapped_column(String(300))  # its host:port, for whoever reads the table
    owner: Mapped[str | None] = mapped_column(String(64))  # the node (process) holding it
    worker: Mapped[int | None] = mapped_column(Integer)  # which of the owner's workers
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Held:
    """A slot a worker holds: which server, which slot."""

    server: str
    slot: int


def key(secret: str | bytes, url: str) -> str:
    """The key an endpoint's slots are stored under: the same for one URL on every replica, and no way back to
    the URL's credentials. `ws://host:3000` and `ws://host:3000/` are one server."""
    parts = urlsplit(url.strip())
    canonical = urlunsplit(
        (
            parts.scheme.lower(),
            parts.netloc,
            "" if parts.path == "/" else parts.path,
            parts.query,
            parts.fragment,
        )
    )
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def ensure(endpoints: list[tuple[str, int, str]]) -> None:
    """Create the slot rows of these (key, capacity, name) endpoints that do not exist yet (a replica that
    configures a smaller capacity uses only the first ones)."""
    rows = [
        {"server": server, "slot": number, "endpoint": name}
        for server, capacity, name in endpoints
        for number in range(capacity)
    ]
    if not rows:
        return
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    with write():
        db.session.execute(insert(BrowserSlot).values(rows).on_conflict_do_nothing())


def _live(now):
    return (BrowserSlot.owner.is_not(None)) & (BrowserSlot.lease_until >= now)


def _free(now):
    return or_(BrowserSlot.owner.is_(None), BrowserSlot.lease_until < now)


def busy(keys: list[str]) -> dict[str, int]:
    """How many slots of each server are held now, over every process."""
    now = utcnow()
    counts = dict(
        db.session.execute(
            select(BrowserSlot.server, func.count())
            .where(BrowserSlot.server.in_(keys), _live(now))
            .group_by(BrowserSlot.server)
        ).all()
    )
    db.session.commit()
    return {server: counts.get(server, 0) for server in keys}


def any_free(candidates: list[tuple[str, int, int]]) -> bool:
    """Whether any of these (key, capacity, rank) endpoints has a free slot now (a read: nothing is locked)."""
    held = busy([server for server, _capacity, _rank in candidates])
    return any(held[server] < capacity for server, capacity, _rank in candidates)


def take(
    candidates: list[tuple[str, int, int]], owner: str, worker: int, lease_seconds: float
) -> Held | None:
    """In the caller's transaction: lease the first free slot of the best of these (key, capacity, rank)
    endpoints, lowest rank first and then the one with the most free slots; None when none has one."""
    if not candidates:
        return None
    now = utcnow()
    held = dict(
        db.session.execute(
            select(BrowserSlot.server, func.count())
            .where(BrowserSlot.server.in_([c[0] for c in candidates]), _live(now))
            .group_by(BrowserSlot.server)
        ).all()
    )
    locked = db.session.get_bind().dialect.name == "postgresql"
    for server, capacity, _rank in sorted(candidates, key=lambda c: (c[2], held.get(c[0], 0) - c[1])):
        if held.get(server, 0) >= capacity:
            continue
        query = (
            select(BrowserSlot.slot)
            .where(BrowserSlot.server == server, BrowserSlot.slot < capacity, _free(now))
            .order_by(BrowserSlot.slot)
            .limit(1)
        )
        if locked:  # a slot another process is taking right now is not waited for: the next one will do
            query = query.with_for_update(skip_locked=True)
        number = db.session.scalar(query)
        if number is None:
            continue
        db.session.execute(
            update(BrowserSlot)
            .where(BrowserSlot.server == server, BrowserSlot.slot == number)
            .values(owner=owner, worker=worker, lease_until=now + timedelta(seconds=lease_seconds))
        )
        return Held(server, number)
    return None


def renew(owner: str, workers: list[int], lease_seconds: float) -> None:
    """Extend the leases of the slots these workers of `owner` hold."""
    if not workers:
        return
    with write():
        db.session.execute(
            update(BrowserSlot)
            .where(BrowserSlot.owner == owner, BrowserSlot.worker.in_(workers))
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        )


def release(held: Held, owner: str, worker: int) -> None:
    """Give a slot back, if it is still this worker's (a lease that ran out may have been taken since)."""
    with write():
        db.session.execute(
            update(BrowserSlot)
            .where(
                BrowserSlot.server == held.server,
                BrowserSlot.slot == held.slot,
                BrowserSlot.owner == owner,
                BrowserSlot.worker == worker,
            )
            .values(owner=None, worker=None, lease_until=None)
        )


def release_all(owner: str) -> None:
    """In the caller's transaction: give back every slot of a process that stops."""
    db.session.execute(
        update(BrowserSlot)
        .where(BrowserSlot.owner == owner)
        .values(owner=None, worker=None, lease_until=None)
    )
