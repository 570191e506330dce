"""A real `monitor run` on the feed farm, first cycle: until every item is completed.

The farm of `bench/farm.py` (N feeds of 30 French items, 50 ms latency, 32 loopback hosts);
the article pages are refused (their links point at a closed port), so every item is completed
from its summary. The daemon runs as users run it: `monitor run` in a process of its own, the
shipped rules (`rules/`, the entity rule included), the network defaults (private addresses
allowed: the farm is on loopback), 2 workers, console alerts to a file. Its progress (items
stored: the poll part; items completed) is read from its SQLite file by a read-only connection
four times a second (scraping its `/metrics` as often cost the daemon 10 % of its time: a
gauge per feed).

Printed: seconds until every feed was polled and until every item was completed, CPU of all
the daemon's processes per item, the PSS of all of them at the end, and reader 3.26's first
cycle on the same farm in the same run (when installed) with the ratios.

    python bench/daemon.py [--feeds 1000] [--timeline] [--py-spy FILE] [--scrape N]
    (--py-spy: a profile of the daemon and its workers, by py-spy; --scrape: its /metrics read
    N times after the cycle, as Prometheus would, timed, before the memory is read)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from farm import CYCLES, contend, process_cpu, process_tree, start_farm  # noqa: E402

from tests.servers import free_port  # noqa: E402

ITEMS_PER_FEED = 30


def _pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


COUNT = "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'done') FROM items"


def _progress(database: Path | str) -> tuple[int, int]:
    """(items stored, items completed), read beside the daemon."""
    if isinstance(database, str):  # PostgreSQL
        import psycopg

        try:
            with psycopg.connect(database, connect_timeout=2) as conn:
                row = conn.execute(COUNT).fetchone()
        except psycopg.Error:  # not created yet
            return 0, 0
    else:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
                row = db.execute(COUNT).fetchone()
        except sqlite3.Error:  # not created yet
            return 0, 0
    return (int(row[0]), int(row[1] or 0)) if row else (0, 0)


def _machine_busy() -> float:
    """Seconds of CPU the whole machine spent busy since boot (a PostgreSQL server's work is
    not the daemon's children's)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the server at `url`, named in the URL the daemon gets; dropped after."""
    import psycopg

    name = f"bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _scrapes(port: int, count: int) -> list[float]:
    """Milliseconds each of `count` GETs of the daemon's /metrics took, one after another."""
    import urllib.request

    taken = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as answer:
            answer.read()
        taken.append((time.perf_counter() - started) * 1000)
    return taken


def run_daemon(urls: list[str], directory: Path, profile: str | None,
               timeline: bool = False, database: str | None = None,
               scrapes: int = 0) -> dict[str, Any]:
    feeds = "\n".join(f"  - {{name: 'Fil {n}', url: '{url}'}}" for n, url in enumerate(urls))
    config = directory / "config.yaml"
    where: Path | str = database or directory / "monitor.db"
    port = free_port() if scrapes else 0
    config.write_text(
        f"database: '{where}'\nrules: ['{ROOT / 'rules'}']\nworkers: 2\n"
        "network: {allow_private_addresses: true}\n"
        + (f"http: {{listen: '127.0.0.1:{port}'}}\n" if scrapes else "")
        + f"feeds:\n{feeds}\n")
    command = [sys.executable, "-m", "monitor", "run", "--config", str(config), "-q"]
    if profile:
        command = ["py-spy", "record", "--subprocesses", "--rate", "200", "--format", "raw",
                   "-o", profile, "--", *command]
    out = open(directory / "daemon.out", "wb")  # noqa: SIM115 (open while it runs)
    started, busy = time.perf_counter(), _machine_busy()
    daemon = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # this tree's code
    expected = len(urls) * ITEMS_PER_FEED
    polled_at, polled_cpu = None, 0.0
    try:
        while True:
            time.sleep(0.25)
            if daemon.poll() is not None:
                raise SystemExit(f"monitor run exited: {(directory / 'daemon.out').read_text()[-2000:]}")
            stored, completed = _progress(where)
            if timeline:
                print(f"{time.perf_counter() - started:5.1f} s: {stored} stored, {completed} done")
            if polled_at is None and stored >= expected:
                polled_at = time.perf_counter() - started
                polled_cpu = sum(map(process_cpu, process_tree(daemon.pid)))
            if completed >= expected:
                completed_at = time.perf_counter() - started
                busy = _machine_busy() - busy
                break
        scraped = _scrapes(port, scrapes) if scrapes else []
        root = daemon.pid
        if profile:  # the daemon is py-spy's child
            root = int(Path(f"/proc/{daemon.pid}/task/{daemon.pid}/children").read_text().split()[0])
        processes = process_tree(root)
        figures = {"polled": polled_at or completed_at, "polled_cpu": polled_cpu,
                   "completed": completed_at,
                   "cpu": sum(map(process_cpu, processes)), "daemon_cpu": process_cpu(root),
                   "machine_cpu": busy,
                   "pss": sum(map(_pss_mb, processes)), "daemon_pss": _pss_mb(root),
                   "others_pss": sorted((_pss_mb(pid) for pid in processes[1:]), reverse=True),
                   "processes": len(processes), "items": expected, "scrapes": scraped}
    finally:
        daemon.send_signal(signal.SIGINT if profile else signal.SIGTERM)
        daemon.wait(120)
        out.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--py-spy", metavar="FILE", help="profile the daemon and its workers")
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--database", metavar="URL",
                        help="a PostgreSQL server (a fresh schema is made on it); default SQLite")
    parser.add_argument("--scrape", type=int, default=0, metavar="N",
                        help="then GET /metrics N times, as Prometheus would (memory after)")
    parser.add_argument("--timeline", action="store_true",
                        help="print items stored and completed four times a second")
    args = parser.parse_args()
    farm, urls = start_farm(args.feeds)
    try:
        with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
            database = stack.enter_context(_postgres_schema(args.database)) if args.database else None
            daemon = run_daemon(urls, Path(directory), args.py_spy, args.timeline, database,
                                args.scrape)
        reader = None
        if not args.no_reader:
            try:
                import reader as _  # noqa: F401
                reader = contend("reader", urls, 0, None).cycles[0]
                assert reader.label == CYCLES[0]
            except ImportError:
                print("(reader is not installed: pip install reader sgmllib3k to compare)")
    finally:
        farm.kill()
    items = daemon["items"]
    print(f"`monitor run`, first cycle: {args.feeds:,} feeds × {ITEMS_PER_FEED} items "
          f"(pages refused: completed from summaries), shipped rules, 2 workers, "
          f"{'PostgreSQL' if args.database else 'SQLite'}")
    ratio = (lambda seconds: f" (×{reader.seconds / seconds:.2f} reader)") if reader else (lambda seconds: "")
    print(f"  every feed polled after  {daemon['polled']:7.1f} s{ratio(daemon['polled'])}, "
          f"CPU of all processes until then {daemon['polled_cpu']:.1f} s")
    print(f"  every item completed at  {daemon['completed']:7.1f} s{ratio(daemon['completed'])}"
          f"  {items / daemon['completed']:6.0f} items/s")
    print(f"  CPU, all processes       {daemon['cpu']:7.1f} s  "
          f"{daemon['cpu'] / items * 1000:.2f} ms per item, of which the daemon's process "
          f"{daemon['daemon_cpu'] / items * 1000:.2f} ms; the machine "
          f"{daemon['machine_cpu'] / items * 1000:.2f} ms (a database server's included)")
    print(f"  memory, all {daemon['processes']:.0f} processes   {daemon['pss']:7.0f} MB (PSS): "
          f"the daemon's {daemon['daemon_pss']:.0f} MB, the others' "
          + ", ".join(f"{mb:.0f}" for mb in daemon["others_pss"]))
    if daemon["scrapes"]:
        taken = sorted(daemon["scrapes"])
        print(f"  /metrics, {len(taken)} scrapes  {taken[len(taken) // 2]:7.0f} ms median, "
              f"{taken[-1]:.0f} ms the slowest (the memory above was read after them)")
    if reader:
        print(f"  reader 3.26 (workers=16) {reader.seconds:7.1f} s  "
              f"{reader.cpu_seconds / items * 1000:.2f} ms per item")


if __name__ == "__main__":
    main()
