"""CPU-bound stages (feed parsing, article extraction) in worker processes, off the event loop.

Processes, not threads: both stages are CPU-bound (the GIL would serialise them) and trafilatura is
not thread-safe. A worker that crashes or hangs costs one task, not the daemon: the pool is killed
and rebuilt, and the caller falls back (a feed retried later, an article from its summary).

Workers are forked from a fork server (a clean process, started once, without the daemon's
threads or state) that has imported what they run: they share those pages instead of each
importing it again (15 MB less per worker, bench/farm.py), and a pool rebuilt after a crash
starts at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from monitor.runners import orphan

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")


class WorkerFailed(Exception):
    """The task's worker crashed or went past its deadline."""


class _PoolBroke(Exception):
    """The pool a task ran on was killed or broke under it."""


# What workers run, imported once by the fork server, which first asks to die with the daemon
# (monitor.runners.orphan_guard). The core modules import their heavy libraries only where they
# use them, so that the daemon's process, which imports them too, never loads trafilatura,
# feedparser, numpy or wordfreq (24 MB): the fork server loads them for every worker.
_PRELOAD = ["monitor.runners.orphan_guard", "trafilatura", "feedparser", "lxml.html", "numpy",
            "wordfreq", "monitor.core.analysis", "monitor.core.feeds", "monitor.runners.fork_server"]


def _warm_up() -> None:
    """In each worker as it starts. Ctrl-C reaches every process of the terminal's group: the
    daemon stops on it, after finishing its articles with its workers, so they must not die of it
    first. The modules a worker inherited stay for its life: keep the cyclic collector from
    walking them again and again (which would also copy the pages it shares with the fork server),
    and let it run less often (a page makes many objects): 6% of an article's time on the French
    corpus."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    orphan.arm_worker()  # dies with the fork server, which dies with the daemon
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


RENEW_AFTER = 500  # tasks (a feed to parse, a page, a batch of summaries) before fresh processes


class Workers:
    def __init__(self, processes: int, deadline: float = 120.0,
                 renew_after: int | None = None) -> None:
        self._processes = processes  # 0: run inline, in this process (tests, debugging)
        self._deadline = deadline
        self._pool: ProcessPoolExecutor | None = None
        # Processes replaced by fresh ones from the fork server after this many tasks: what a
        # worker gathers over time (its heap's fragments, libraries' caches) goes back to the
        # system; None keeps them (the entity model's process: seconds to load again).
        self._renew_after = renew_after
        self._ran = 0  # tasks started on the current pool
        self._killed: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        # No more tasks in the pool than it has processes: a task's deadline counts its own
        # work, not a queue, and killing the pool for a hung task breaks only those running.
        self._slots = asyncio.Semaphore(max(1, processes))
        self._busy = 0  # tasks running
        self._last_used = time.monotonic()

    def close_if_idle(self, idle: float) -> bool:
        """Stop the pool's processes when no task ran for `idle` seconds (what they loaded,
        a language model say, goes back to the system); the next task starts them again.
        Returns whether it stopped them."""
        if self._pool is None or self._busy or time.monotonic() - self._last_used < idle:
            return False
        pool, self._pool = self._pool, None
        pool.shutdown(wait=False)
        log.info("worker processes idle for %gs: stopped until needed again", idle)
        return True

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker. A task whose pool broke under it (another task hung or
        its worker died) runs once more on the new pool, so one bad page does not drop the
        pages beside it; a task that hangs, or breaks the pool twice, fails."""
        if self._processes == 0:
            return function(*args)
        async with self._slots:
            self._busy += 1
            try:
                for attempt in range(2):
                    pool = self._open()
                    try:
                        return await self._run_on(pool, function, *args)
                    except _PoolBroke:
                        if attempt:
                            raise WorkerFailed("worker process died") from None
            finally:
                self._busy -= 1
                self._last_used = time.monotonic()
        raise AssertionError("unreachable")

    def _open(self) -> ProcessPoolExecutor:
        if self._pool is not None and self._renew_after and self._ran >= self._renew_after:
            self._pool.shutdown(wait=False)  # its running tasks finish, then its processes go
            self._pool = None
        if self._pool is None:
            self._ran = 0
            os.environ[orphan.PARENT] = str(os.getpid())  # the fork server checks its parent
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(
                self._processes, mp_context=context, initializer=_warm_up)
        return self._pool

    async def _run_on(self, pool: ProcessPoolExecutor, function: Callable[..., T],
                      *args: Any) -> T:
        self._ran += 1
        future = asyncio.get_running_loop().run_in_executor(pool, function, *args)
        try:
            return await asyncio.wait_for(future, self._deadline)
        except TimeoutError:
            log.warning("a worker ran past %ss on %s; restarting the pool",
                        self._deadline, function.__name__)
            self._discard(pool)
            raise WorkerFailed(f"ran past {self._deadline:g}s") from None
        except BrokenProcessPool:
            self._discard(pool)
            raise _PoolBroke from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if pool not in self._killed or (task is not None and task.cancelling()):
                raise  # the caller's own cancellation
            raise _PoolBroke from None  # cancelled by the pool's shutdown
        except Exception:
            if pool not in self._killed:
                raise  # the function's own error
            raise _PoolBroke from None  # the pool was torn down under it

    @property
    def processes(self) -> int:
        return self._processes

    def pids(self) -> list[int]:
        """The worker processes' ids (for measuring them)."""
        return list(getattr(self._pool, "_processes", {}) or {})

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        self._killed.add(pool)
        if self._pool is pool:
            self._pool = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()  # a hung worker never returns on its own
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._killed.add(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Batched(Generic[A, T]):
    """Calls of a small task (an article from its feed's summary: half a millisecond) made
    while the workers are busy, sent to a worker together: one round trip (pickling, two
    queues, wake-ups on both sides) costs about as much as such a task. `function` takes the
    list of arguments and returns, in order, each one's result or the exception it raised;
    a batch whose worker failed fails each of its calls with WorkerFailed."""

    def __init__(self, workers: Workers, function: Callable[[list[A]], list[T | Exception]],
                 most: int = 64) -> None:
        self._workers = workers
        self._function = function
        self._most = most
        self._waiting: list[tuple[A, asyncio.Future[T]]] = []
        self._senders: set[asyncio.Task[None]] = set()  # no more than there are workers

    async def __call__(self, argument: A) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((argument, future))
        if len(self._senders) < max(1, self._workers.processes):
            self._senders.add(asyncio.create_task(self._send()))  # held: the loop keeps only
        return await future  # a weak reference to a task

    async def _send(self) -> None:
        try:
            await self._send_waiting()
        finally:  # at once, not in a done callback: a call made before that ran would count a
            # sender that sends nothing more, and wait for ever
            self._senders.discard(asyncio.current_task())

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:self._most], self._waiting[self._most:]
            try:
                results = await self._workers.run(self._function, [a for a, _ in batch])
            except asyncio.CancelledError:  # shutting down: nobody waits for the rest
                for _, future in batch + self._waiting:
                    future.cancel()
                raise
            except Exception as error:  # the worker died or hung, or a result did not
                results = [WorkerFailed(str(error))] * len(batch)  # pickle: each falls back
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
