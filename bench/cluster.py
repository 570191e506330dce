"""Several instances on one PostgreSQL database, against one on SQLite, polling a feed farm.

The farm of `bench/farm.py` (N feeds of 30 items, 50 ms latency, ETag and 304, 32 loopback
hosts) in a process of its own. Each instance is a process running the daemon's pipeline, as
`monitor run` does: it claims a batch of due feeds (leases, FOR UPDATE SKIP LOCKED), polls it,
and claims the next, until no feed is due. Two cycles: full (every feed new: 30 items each to
store) and 304 (every feed due again, every answer a 304). A cycle's time runs from the moment
all instances start to the moment the last one finds nothing left to claim.

Printed: seconds and feeds/s per cycle for SQLite (one instance, the embedded default) and for
1, 2 and 3 instances on PostgreSQL, with ratios to SQLite and to one PostgreSQL instance, and
how many feeds each instance polled (the split), and polls done twice (must be 0).

    python bench/cluster.py [--feeds 1000] [--instances 1,2,3] [--rounds 1] [--postgres URL]

With `--rounds N`, each setting runs N times, in turn with the others (so that a slow minute of
the machine falls on all of them), and the medians are printed: runs vary by ±15 % here.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.farm import farm_config, start_farm  # noqa: E402

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test")
CYCLES = ("full cycle", "304 cycle")


@dataclass
class Polled:
    cycle: str
    started: float  # time.monotonic(): one clock for every process of the machine
    ended: float
    feeds: list[str]


def instance(name: str, database: str, urls: list[str],
             barrier: multiprocessing.synchronize.Barrier,
             results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from monitor.runners import app

    with tempfile.TemporaryDirectory() as directory:
        config, rules = app.load(farm_config(directory, urls,
                                             f"database: '{database}'\ninstance: {name}\n"))

        async def cycles() -> None:
            async with app.open_pipeline(config, rules) as pipeline:
                await asyncio.gather(*(pipeline.context.workers.run(len, b"") for _ in range(4)))
                for label in CYCLES:
                    barrier.wait()  # all started; the coordinator made every feed due
                    barrier.wait()
                    started = time.monotonic()
                    polls = await pipeline.polling.poll_due()  # as the daemon's poll job does
                    results.put(Polled(label, started, time.monotonic(),
                                       [poll.url for poll in polls]))

        asyncio.run(cycles())


def run(database: str, instances: int, urls: list[str]) -> dict[str, tuple[float, list[int], int]]:
    """cycle → (seconds, feeds polled by each instance, polls done twice)."""
    from monitor.store.store import Store

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(instances + 1), context.Queue()
    processes = [context.Process(target=instance,
                                 args=(f"bench-{n}", database, urls, barrier, results))
                 for n in range(instances)]
    for process in processes:
        process.start()
    found: dict[str, tuple[float, list[int], int]] = {}
    store = None
    try:
        for label in CYCLES:
            barrier.wait(600)
            store = store or Store(database)
            store._db.execute("UPDATE feeds SET next_check = 0")  # every feed due
            barrier.wait(600)
            polled = [results.get(timeout=1200) for _ in range(instances)]
            everyone = [url for one in polled for url in one.feeds]
            found[label] = (max(p.ended for p in polled) - min(p.started for p in polled),
                            sorted((len(p.feeds) for p in polled), reverse=True),
                            len(everyone) - len(set(everyone)))
            assert set(everyone) == set(urls), "a feed was not polled"
    finally:
        for process in processes:
            process.join(120)
        if store is not None:
            store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    farm, urls = start_farm(args.feeds)
    settings = [0] + [int(n) for n in args.instances.split(",")]  # 0: SQLite
    runs: dict[int, list[dict[str, tuple[float, list[int], int]]]] = {n: [] for n in settings}
    try:
        for _ in range(args.rounds):
            for count in settings:
                runs[count].append(run_setting(count, urls, args.postgres))
    finally:
        farm.kill()
    report([("SQLite, 1 instance" if count == 0 else f"PostgreSQL, {count} instance(s)",
             median_of(runs[count])) for count in settings], args.feeds, args.rounds)


def run_setting(count: int, urls: list[str], postgres: str) -> dict[str, tuple[float, list[int], int]]:
    """One run of SQLite (`count` 0) or of `count` instances on a fresh PostgreSQL schema."""
    import psycopg

    if count == 0:
        with tempfile.TemporaryDirectory() as directory:
            return run(f"{directory}/bench.db", 1, urls)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        joiner = "&" if "?" in postgres else "?"
        return run(f"{postgres}{joiner}options=-csearch_path%3D{schema}", count, urls)
    finally:
        with psycopg.connect(postgres, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def median_of(runs: list[dict[str, tuple[float, list[int], int]]]
              ) -> dict[str, tuple[float, list[int], int]]:
    """Each cycle's median time (its split: the median run's; twice: the worst)."""
    found = {}
    for label in CYCLES:
        ordered = sorted((one[label] for one in runs), key=lambda cycle: cycle[0])
        middle = ordered[len(ordered) // 2]
        found[label] = (statistics.median(c[0] for c in ordered), middle[1],
                        max(c[2] for c in ordered))
    return found


def report(rows: list[tuple[str, dict[str, tuple[float, list[int], int]]]], feeds: int,
           rounds: int) -> None:
    print(f"feed farm: {feeds:,} feeds of 30 items, 50 ms latency; {os.cpu_count()} cores; "
          "each instance: 64 requests in flight, 2 parser processes"
          + (f"; medians of {rounds} rounds" if rounds > 1 else ""))
    sqlite = rows[0][1]
    one_pg = next((found for name, found in rows if name.startswith("PostgreSQL, 1 ")), None)
    print(f"  {'':<34}{'seconds':>9}{'feeds/s':>9}  {'vs SQLite':>9}  {'vs 1 PG':>7}  "
          "feeds per instance  twice")
    for name, found in rows:
        for label in CYCLES:
            seconds, split, twice = found[label]
            base = f"×{one_pg[label][0] / seconds:.2f}" if one_pg else ""
            print(f"  {name + ', ' + label:<34}{seconds:9.1f}{feeds / seconds:9.0f}  "
                  f"×{sqlite[label][0] / seconds:8.2f}  {base:>7}  "
                  f"{'/'.join(map(str, split)):>18}  {twice:5d}")


if __name__ == "__main__":
    main()
