"""The nodes table: the Sentri processes serving this database, each saying it is alive every few seconds
(the heartbeat), with its browser slots, so that the others can tell who is gone (GitHub reporting) and
who has room (queue/spread.py). All in the caller's app context; each function is one short transaction."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from ..database import write
from ..extensions import db
from ..models import Node, utcnow
from . import slots

# A node not seen for this long (or twice its lease, if longer) is gone.
NODE_TIMEOUT_SECONDS = 10.0
FORGET_NODES_AFTER = timedelta(days=1)


def node_identity() -> str:
    """A process identity that no restart reuses: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def register(node_id: str, slots: int) -> None:
    """Say this process is alive, with its browser slots."""
    now = utcnow()
    with write():
        db.session.add(
            Node(
                id=node_id,
                host=node_id.split(":")[0],
                pid=os.getpid(),
                started_at=now,
                seen_at=now,
                slots=slots,
            )
        )


def seen(node_id: str, now: datetime) -> None:
    """Keep this process's node fresh, and forget long-gone ones."""
    with write():
        db.session.execute(update(Node).where(Node.id == node_id).values(seen_at=now))
        db.session.execute(delete(Node).where(Node.seen_at < now - FORGET_NODES_AFTER))


def no_room(node_id: str) -> None:
    """Say this stopping process has no free slot: nobody leaves it a test it would not claim."""
    with write():
        db.session.execute(update(Node).where(Node.id == node_id).values(slots=0))


def forget(node_id: str) -> None:
    """Remove this stopped process from the table, and give back the browser server slots it held."""
    with write():
        db.session.execute(delete(Node).where(Node.id == node_id))
        slots.release_all(node_id)


def alive_nodes(timeout_seconds: float = NODE_TIMEOUT_SECONDS, now=None) -> set[str]:
    """The ids of the processes that said they were alive within `timeout_seconds`."""
    now = now or utcnow()
    alive = set(
        db.session.scalars(select(Node.id).where(Node.seen_at >= now - timedelta(seconds=timeout_seconds)))
    )
    db.session.commit()
    return alive
