"""CPU-bound stages (feed parsing, article extraction) in worker processes, off the event loop.

Processes, not threads: both stages are CPU-bound (the GIL would serialise them) and trafilatura is
not thread-safe. A worker that crashes or hangs costs one task, not the daemon: the pool is killed
and rebuilt, and the caller falls back (a feed retried later, an article from its summary).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerFailed(Exception):
    """The task's worker crashed or went past its deadline."""


def _warm_up() -> None:
    """Pay the heavy imports once per worker, when it starts, not on its first article."""
    import trafilatura  # noqa: F401 (imported lazily by monitor.extract: the daemon needs none)

    import monitor.analysis  # noqa: F401
    import monitor.feeds  # noqa: F401

    # The modules just imported stay for the process's life: keep the cyclic collector from
    # walking them again and again, and let it run less often (a page makes many objects).
    # 6% of an article's time on the French corpus.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


class Workers:
    def __init__(self, processes: int, deadline: float = 120.0) -> None:
        self._processes = processes  # 0: run inline, in this process (tests, debugging)
        self._deadline = deadline
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self._processes == 0:
            return function(*args)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up)
        pool = self._pool
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
            raise WorkerFailed("worker process died") from None

    def pids(self) -> list[int]:
        """The worker processes' ids (for measuring them)."""
        return list(getattr(self._pool, "_processes", {}) or {})

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()  # a hung worker never returns on its own
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
