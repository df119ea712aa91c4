"""Each worker thread's background tasks (sentri/worker/spare.py: contexts being closed, spares opened) are
its own: a thread settling its loop never walks a set that another thread's tasks are changing."""

from __future__ import annotations

import asyncio
import sys
import threading

from sentri.worker.spare import background, settle

ROUNDS = 40
TASKS = 500  # per round: a set big enough that walking it takes many thread switches


def _worker(errors: list[BaseException], finished: list[int]) -> None:
    async def round_trip() -> int:
        done = []
        for _ in range(TASKS):
            background(_note(done))
        await settle()  # this loop's tasks, all of them, and no other thread's
        return len(done)

    loop = asyncio.new_event_loop()
    try:
        for _ in range(ROUNDS):
            finished.append(loop.run_until_complete(round_trip()))
    except BaseException as exc:  # what would end a worker thread
        errors.append(exc)
    finally:
        loop.close()


async def _note(done: list) -> None:
    await asyncio.sleep(0)
    done.append(1)


def test_threads_settling_their_own_loops_at_once_neither_fail_nor_miss_a_task():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as Python can: the race shows in a second
    try:
        _race()
    finally:
        sys.setswitchinterval(before)


def _race() -> None:
    errors: list[BaseException] = []
    results: list[list[int]] = [[], [], []]
    threads = [threading.Thread(target=_worker, args=(errors, mine)) for mine in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(mine == [TASKS] * ROUNDS for mine in results)  # settle() waited for every task of its loop
