"""The worker pool on real processes: a crash or a hang costs one task, and the next one runs."""

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from monitor.runners.workers import Batched, WorkerFailed, Workers
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


def on_one_worker(scenario: Callable[[Workers], Awaitable[None]]) -> None:
    """`scenario` with a pool of one worker process, closed after."""
    async def run() -> None:
        workers = Workers(1)
        try:
            await scenario(workers)
        finally:
            workers.close()

    asyncio.run(run())


def batch_of_pids(items: list[int]) -> list[int | Exception]:
    """Each item's (pid, batch size) packed in an int; a negative item raises; 0 kills it."""
    if 0 in items:
        os._exit(1)
    return [ValueError(f"item {item}") if item < 0 else os.getpid() * 1000 + len(items)
            for item in items]


def test_small_tasks_made_while_the_workers_are_busy_go_in_one_round_trip() -> None:
    async def scenario(workers: Workers) -> None:
        await workers.run(len, b"")  # started
        batched = Batched(workers, batch_of_pids)
        results = await asyncio.gather(*(batched(n) for n in range(1, 11)))
        assert [result % 1000 for result in results] == [10] * 10  # one task for all
        assert {result // 1000 for result in results} != {os.getpid()}

    on_one_worker(scenario)


def test_a_task_of_a_batch_that_raises_fails_alone_and_a_dead_worker_fails_its_batch() -> None:
    async def scenario(workers: Workers) -> None:
        batched = Batched(workers, batch_of_pids)
        good, bad = await asyncio.gather(batched(1), batched(-1), return_exceptions=True)
        assert isinstance(good, int) and repr(bad) == "ValueError('item -1')"
        results = await asyncio.gather(batched(1), batched(0), batched(2),
                                       return_exceptions=True)
        assert all(isinstance(result, WorkerFailed) for result in results)
        assert isinstance(await batched(3), int)  # a new worker takes the next ones

    on_one_worker(scenario)


def test_a_call_made_as_the_last_batch_returns_is_sent_too() -> None:
    """The caller of the last batch resumes before its sender's task is done: a sender counted
    until then would leave the next call waiting for ever."""
    async def scenario(workers: Workers) -> None:
        batched = Batched(workers, batch_of_pids)
        await batched(1)
        async with asyncio.timeout(30):  # (not wait_for: its task would start too late)
            assert isinstance(await batched(2), int)

    on_one_worker(scenario)


def _word_tables_loaded() -> int:
    """In a worker: wordfreq's tables loaded before any word was looked up there."""
    import wordfreq

    return wordfreq.get_frequency_dict.cache_info().currsize


def test_workers_share_the_word_table_their_fork_server_loaded() -> None:
    async def scenario() -> None:
        workers = Workers(1)
        try:
            assert await workers.run(_word_tables_loaded) == 1
        finally:
            workers.close()

    asyncio.run(scenario())


def _fails_later(log: str) -> None:
    """Notes its run in `log`, then raises its own error a moment later."""
    with open(log, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(1.0)
    raise ValueError("its own error")


def test_processes_are_renewed_after_so_many_tasks_and_a_task_under_way_ends_as_it_would(
        tmp_path: Path) -> None:
    log = str(tmp_path / "runs")

    async def scenario() -> None:
        workers = Workers(2, renew_after=3)
        try:
            first = await workers.run(os.getpid)
            failing = asyncio.create_task(workers.run(_fails_later, log))
            await asyncio.sleep(0.3)  # under way on the first pool
            old = set(workers.pids())
            assert first in old
            await workers.run(os.getpid)  # the third task: the first pool still
            renewed = await workers.run(os.getpid)  # the fourth: fresh processes
            assert renewed not in old
            with pytest.raises(ValueError, match="its own error"):
                await failing  # neither a worker failure nor run again on the new pool
            assert len(Path(log).read_text().split()) == 1
            wait_for(lambda: not any(alive(pid) for pid in old), timeout=10)  # their memory back
        finally:
            workers.close()

    asyncio.run(scenario())
