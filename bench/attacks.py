"""Attacks on a running `monitor run`, and what its health check feels meanwhile.

    python bench/attacks.py [--rounds N] [--slow 2000] [--logins 50]

A real daemon (one feed on a local site, polled every second, the console with a password and
a token) is attacked three ways, one after the other: YAML alias bombs posted to the rule
tester, thousands of idle half-sent requests (slowloris) from one address, and a crowd of
wrong passwords at once, with the right one from another address in the middle. Throughout,
/healthz is asked from another loopback address every 50 ms; the table gives its latency
(p50, p99, worst; a probe that fails counts as its timeout, 5 s) and the memory (PSS) of the
daemon and its worker processes before, during and after each attack. The baseline row is the
same probe with no attack. Goal: /healthz under 100 ms at p99 whatever the attack.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.web.auth import hash_password  # noqa: E402
from tests.e2e.helpers import environment, write_config  # noqa: E402
from tests.hostile import billion_laughs, closed_by_peer  # noqa: E402
from tests.servers import Route, Site, free_port  # noqa: E402

TOKEN = "t" * 32
PASSWORD = "correct horse battery"
PROBE_TIMEOUT = 5.0


def pss_mb(root: int) -> float:
    """Proportional set size of `root` and its descendants, in MB (shared pages split)."""
    total, pids = 0, [root]
    while pids:
        pid = pids.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pids += [int(child) for child in children]
    return total / 1024


class Probe:
    """/healthz every 50 ms from 127.0.0.2, in a thread of its own: what a load balancer or
    a container's health check would see."""

    def __init__(self, port: int) -> None:
        self.port, self.latencies, self._stop = port, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=PROBE_TIMEOUT,
                                              source_address=("127.0.0.2", 0)) as probe:
                    probe.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                                  "Connection: close\r\n\r\n".encode())
                    ok = probe.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            self.latencies.append(time.perf_counter() - started if ok else PROBE_TIMEOUT)
            self._stop.wait(0.05)


def alias_bombs(port: int, count: int = 5, seconds: float = 5.0) -> str:
    """`count` bombs at once, again and again for `seconds`."""
    async def post() -> int:
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}/api/testeur", json={"text": "Kiev",
                                                              "yaml": billion_laughs()},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=aiohttp.ClientTimeout(total=120)) as answer:
            return answer.status

    async def all_of_them() -> list[int]:
        statuses: list[int] = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            statuses += await asyncio.gather(*(post() for _ in range(count)))
        return statuses

    statuses = asyncio.run(all_of_them())
    return (f"{len(statuses)} bombs ({count} at a time) in {seconds:g} s, answered "
            f"{sorted(set(statuses))}")


def slow_connections(port: int, count: int, hold: float = 15.0) -> str:
    crowd, refused = [], 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /flux HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            crowd.append(sock)
        except OSError:
            refused += 1
    time.sleep(hold)
    closed = sum(closed_by_peer(sock) for sock in crowd)
    for sock in crowd:
        sock.close()
    return f"{count} opened ({refused} refused at connect), {closed} closed by the daemon in {hold:g} s"


def wrong_logins(port: int, count: int) -> str:
    login = f"http://127.0.0.1:{port}/login"

    async def attempt(secret: str, address: str) -> int | str:
        jar = aiohttp.CookieJar(unsafe=True)
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as session:
            try:
                page = await (await session.get(login)).text()
                found = re.search(r'name="csrf" value="([^"]+)"', page)
                assert found, page
                async with session.post(login, data={"csrf": found.group(1), "secret": secret,
                                                     "next": "/flux"},
                                        allow_redirects=False) as answer:
                    return answer.status
            except aiohttp.ClientError:
                return "closed"  # past the per-address connection cap

    async def flood() -> tuple[list[int | str], int | str, float]:
        wrong = [asyncio.create_task(attempt("guess", "127.0.0.1")) for _ in range(count)]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        right = await attempt(PASSWORD, "127.0.0.3")
        took = time.perf_counter() - started
        return list(await asyncio.gather(*wrong)), right, took

    statuses, right, took = asyncio.run(flood())
    counts = {status: statuses.count(status) for status in sorted(set(statuses), key=str)}
    return f"wrong: {counts}; the right one from elsewhere: {right} in {took * 1000:.0f} ms"


def row(name: str, latencies: list[float], memory: tuple[float, float, float], note: str) -> str:
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    before, during, after = memory
    return (f"| {name} | {statistics.median(ordered) * 1000:.1f} | {p99 * 1000:.1f} | "
            f"{ordered[-1] * 1000:.0f} | {len(ordered)} | {before:.0f} / {during:.0f} / "
            f"{after:.0f} | {note} |")


def measured(daemon: subprocess.Popen[bytes], port: int,
             attack: Callable[[], str]) -> tuple[list[float], tuple[float, float, float], str]:
    before = pss_mb(daemon.pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], pss_mb(daemon.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with Probe(port) as probe:
        note = attack()
    done.set()
    watcher.join()
    time.sleep(2)
    return probe.latencies, (before, peak[0], pss_mb(daemon.pid)), note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--slow", type=int, default=2000, help="half-sent requests at once")
    parser.add_argument("--logins", type=int, default=50, help="wrong passwords at once")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the attacker's own sockets
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.slow + 512)), hard))
    with tempfile.TemporaryDirectory() as folder, Site() as site:
        directory = Path(folder)
        site.routes["/feed.xml"] = Route(
            b"<rss version='2.0'><channel><title>T</title><item><title>Kiev</title><link>"
            b"http://x.fr/1</link></item></channel></rss>", content_type="application/rss+xml")
        port = free_port()
        config = write_config(
            directory, [{"name": "F", "url": site.url("/feed.xml"), "interval": "1s"}], {},
            ["console"], "rules:\n  - {name: kiev, any: [Kiev]}\n", poll={"tick": "1s"},
            http={"listen": f"127.0.0.1:{port}",
                  "auth": {"password_hash": hash_password(PASSWORD), "token": TOKEN}})
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=ROOT,
            env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)))
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        raise SystemExit("the daemon did not start") from None
                    time.sleep(0.2)
            time.sleep(2)
            print(f"`monitor run` (pid {daemon.pid}, 1,024 open files), /healthz from "
                  "127.0.0.2 every 50 ms; latency in ms, memory (PSS of all its processes) "
                  "in MB")
            print("| attack | p50 | p99 | worst | probes | memory before / during / after | "
                  "what happened |")
            print("|---|---|---|---|---|---|---|")
            for round_ in range(1, args.rounds + 1):
                tag = f" (round {round_})" if args.rounds > 1 else ""
                attacks: list[tuple[str, Callable[[], str]]] = [
                    ("none (baseline)", lambda: time.sleep(5) or "5 s of probes"),
                    ("alias bombs to the tester", lambda: alias_bombs(port)),
                    (f"{args.slow} half-sent requests", lambda: slow_connections(port, args.slow)),
                    (f"{args.logins} wrong passwords at once",
                     lambda: wrong_logins(port, args.logins)),
                ]
                for name, attack in attacks:
                    latencies, memory, note = measured(daemon, port, attack)
                    print(row(name + tag, latencies, memory, note), flush=True)
                    if daemon.poll() is not None:
                        raise SystemExit(f"the daemon died ({daemon.returncode}) under: {name}")
            polls = len(site.got("GET", "/feed.xml"))
            print(f"\nthe feed was polled {polls} times meanwhile; the daemon is "
                  f"{'alive' if daemon.poll() is None else 'dead'}")
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
