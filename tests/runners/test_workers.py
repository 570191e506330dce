"""The worker pool on real processes: a crash or a hang costs one task, and the next one runs."""

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from monitor.runners.workers import WorkerFailed, Workers
from tests.servers import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_task_runs_in_another_process() -> None:
    async def scenario() -> None:
        workers = Workers(1)
        try:
            assert await workers.run(os.getpid) != os.getpid()
            assert await workers.run(len, b"abc") == 3
        finally:
            workers.close()

    asyncio.run(scenario())


def test_a_worker_that_dies_fails_its_task_only() -> None:
    async def scenario() -> None:
        workers = Workers(1)
        try:
            first = await workers.run(os.getpid)
            with pytest.raises(WorkerFailed, match="worker process died"):
                await workers.run(os._exit, 1)
            assert await workers.run(os.getpid) not in (first, os.getpid())  # a new worker
        finally:
            workers.close()

    asyncio.run(scenario())


def test_a_hung_worker_is_killed_at_the_deadline() -> None:
    async def scenario() -> None:
        workers = Workers(1, deadline=1.0)
        try:
            hung = await workers.run(os.getpid)
            with pytest.raises(WorkerFailed, match="ran past 1s"):
                await workers.run(time.sleep, 60)
            assert await workers.run(len, b"ok") == 2
            wait_for(lambda: not alive(hung), timeout=5)  # killed, not left beside the new pool
        finally:
            workers.close()

    asyncio.run(scenario())


def test_ctrl_c_leaves_the_workers_to_the_daemon() -> None:
    """Ctrl-C signals the whole process group; the daemon finishes its articles with its
    workers before it stops them."""
    async def scenario() -> None:
        workers = Workers(1)
        try:
            worker = await workers.run(os.getpid)
            ignored = int(next(line for line in Path(f"/proc/{worker}/status").read_text()
                               .splitlines() if line.startswith("SigIgn:")).split()[1], 16)
            assert ignored & (1 << (signal.SIGINT - 1))  # the worker ignores Ctrl-C…
            os.kill(worker, signal.SIGINT)
            assert await workers.run(os.getpid) == worker  # …and is there for the next task
        finally:
            workers.close()

    asyncio.run(scenario())


def test_no_processes_runs_inline() -> None:
    assert asyncio.run(Workers(0).run(os.getpid)) == os.getpid()


def test_a_hung_worker_costs_only_its_own_task() -> None:
    """Killing the pool to stop a hung task breaks the tasks beside it, running or queued:
    they are run again on the new pool, not failed with it."""
    async def scenario() -> None:
        workers = Workers(2, deadline=2.0)
        try:
            await workers.run(os.getpid)  # the pool is up
            hung = asyncio.ensure_future(workers.run(time.sleep, 60))
            await asyncio.sleep(0.2)
            others = [workers.run(_slow_square, n) for n in range(6)]
            results = await asyncio.gather(hung, *others, return_exceptions=True)
            assert isinstance(results[0], WorkerFailed)
            assert results[1:] == [n * n for n in range(6)]
        finally:
            workers.close()

    asyncio.run(scenario())


def _slow_square(n: int) -> int:
    time.sleep(0.8)
    return n * n


def test_an_idle_pool_stops_its_processes_and_starts_again_when_needed() -> None:
    async def scenario() -> None:
        workers = Workers(1)
        try:
            first = await workers.run(os.getpid)
            assert not workers.close_if_idle(600.0)  # used a moment ago
            assert workers.close_if_idle(0.0)
            wait_for(lambda: not alive(first), timeout=10)  # its memory back to the system
            assert not workers.close_if_idle(0.0)  # nothing left to stop
            assert await workers.run(os.getpid) not in (first, os.getpid())
        finally:
            workers.close()

    asyncio.run(scenario())
