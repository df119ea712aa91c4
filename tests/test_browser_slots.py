"""Browser server slots in the database (worker/slots.py): a server's `#n` is n leases that every Sentri process
takes from, so that together they never put more than n tests on it. Leases are taken by the endpoint the
pool prefers, run out when their process dies, are renewed by the heartbeat and given back. On SQLite and,
with SENTRI_TEST_DATABASE_URL, PostgreSQL (where takers race with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading

from sqlalchemy import update

from sentri.database import write
from sentri.extensions import db
from sentri.timestamps import utcnow
from sentri.worker import remote, slots
from sentri.worker.slots import BrowserSlot
from tests.conftest import both_databases

LEASE = 30.0


def _pool(app, spec: str) -> remote.ServerPool:
    pool = remote.ServerPool(remote.parse_servers(spec), secret=app.config["SECRET_KEY"])
    with app.app_context():
        slots.ensure(pool.slot_rows())
    return pool


def _take(app, pool, owner: str, worker: int, lease: float = LEASE, skip=frozenset()) -> slots.Held | None:
    with app.app_context(), write():
        return slots.take(pool.candidates(skip), owner, worker, lease)


def _busy(app, pool) -> dict[str, int]:
    with app.app_context():
        return {
            pool.endpoint(server).name: count
            for server, count in slots.busy([e.key for e in pool.endpoints]).items()
        }


@both_databases
def test_slots_are_taken_where_most_are_free_and_never_past_a_servers_capacity(app):
    pool = _pool(app, "ws://a:1#2,ws://b:1#3")
    taken = [_take(app, pool, "node-1", worker) for worker in range(5)]
    assert [pool.endpoint(held.server).name for held in taken] == ["b:1", "a:1", "b:1", "a:1", "b:1"]
    assert _take(app, pool, "node-2", 0) is None  # another process finds them all held
    assert _busy(app, pool) == {"a:1": 2, "b:1": 3}
    with app.app_context():
        assert not slots.any_free(pool.candidates())  # so its workers claim nothing: no test waits for a slot
    with app.app_context():
        slots.release(taken[1], "node-2", 1)  # not its slot: nothing happens
        assert _busy(app, pool) == {"a:1": 2, "b:1": 3}
        slots.release(taken[1], "node-1", 1)
        assert slots.any_free(pool.candidates())
    again = _take(app, pool, "node-2", 0)
    assert again == taken[1] and _busy(app, pool) == {"a:1": 2, "b:1": 3}


@both_databases
def test_an_answering_server_is_preferred_and_a_refused_one_skipped(app):
    pool = _pool(app, "ws://a:1#1,ws://b:1#3")
    pool.answered(pool.endpoints[0])
    pool.refused(pool.endpoints[1], "connect ECONNREFUSED")
    assert pool.endpoint(_take(app, pool, "node-1", 0).server).name == "a:1"  # fewer free, but it answers
    assert _take(app, pool, "node-1", 1) is None  # b:1 is down: wait for a:1 rather than try it
    # Skipping a:1 (it refused this test), every endpoint left is down: tried all the same.
    assert pool.endpoint(_take(app, pool, "node-1", 1, skip={"ws://a:1"}).server).name == "b:1"


@both_databases
def test_a_lease_that_ran_out_is_a_free_slot_and_renewal_keeps_one(app):
    pool = _pool(app, "ws://a:1#2")
    live = _take(app, pool, "node-1", 3)
    dead = _take(app, pool, "dead-node", 0, lease=-1.0)  # its process died: the lease ran out
    assert _busy(app, pool) == {"a:1": 1}
    with app.app_context(), write():  # node-1's lease is due too, but its heartbeat renews it in time
        db.session.execute(
            update(BrowserSlot).where(BrowserSlot.owner == "node-1").values(lease_until=utcnow())
        )
    with app.app_context():
        slots.renew("node-1", [3], LEASE)
    assert _take(app, pool, "node-2", 0) == dead != live
    assert _take(app, pool, "node-2", 1) is None and _busy(app, pool) == {"a:1": 2}
    with app.app_context(), write():
        slots.release_all("node-2")  # a process that stops gives back what it holds
    assert _busy(app, pool) == {"a:1": 1}


@both_databases
def test_processes_racing_for_slots_never_hold_more_than_the_capacity(app):
    pool = _pool(app, "ws://a:1#3")
    barrier = threading.Barrier(8)
    won: list[slots.Held] = []
    lock = threading.Lock()

    def race(number: int) -> None:
        barrier.wait(timeout=30)
        held = _take(app, pool, f"node-{number}", 0)
        with app.app_context():
            db.session.remove()
        if held is not None:
            with lock:
                won.append(held)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(held.slot for held in won) == [0, 1, 2]


def test_a_servers_key_is_the_same_for_one_url_and_never_holds_its_credentials():
    url = "wss://user:pa55word@browsers.example:443/playwright?token=s3cret-token"
    assert slots.key("k", url) == slots.key("k", url) != slots.key("other key", url)
    assert slots.key("k", "ws://a:3000") == slots.key("k", "ws://a:3000/") != slots.key("k", "ws://a:3001/")
    assert not any(part in slots.key("k", url) for part in ("pa55word", "s3cret", "browsers"))
    assert len(slots.key("k", url)) == BrowserSlot.server.type.length
