"""Faults on real `monitor run` processes sharing one PostgreSQL server, as machines fail: an
instance paused (SIGSTOP) for three leases at a random instant, SIGKILLed then restarted, its
connections killed (`pg_terminate_backend`), the server restarted, and the database refusing
writes (a trigger: a full disk, then space freed).

Each round: a throwaway PostgreSQL server of its own (never the shared one), a local farm of
six outlets publishing six stories (each on two outlets, word for word, article pages
trickling in so that work is in progress), two instances with a two-URL channel and
`followups: message`, so every story owes each URL two messages: its headline and one
follow-up. The fault comes between 1 and 5 s after both instances run. Counted per URL:
messages, duplicates (beyond the two owed), lost (owed and never sent), and the longest
stall of the healthy instance: the longest wait between two answers of its /healthz (which
writes its heartbeat: a stalled database shows).

What must hold (exit status 1 otherwise): nothing lost; duplicates only for the faults that
can come between a message going out and its being recorded (pause, kill, killed
connections, a restart), and at most one per URL per round (the message on the wire); no
healthy instance stalled longer than one lease.

    python bench/faults.py [--rounds 30] [--kinds pause,kill,...] [--first N] [--keep DIR]

A round that fails its check is named, and its instances' logs and configs are kept in DIR
(default: a fresh folder under /tmp, printed); `--kinds pause --first 7 --rounds 1` runs that
round again (each round's random instant comes from its kind and number).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.db import fail_updates, heal_updates  # noqa: E402
from tests.e2e.helpers import Daemon, posted_alerts, write_config  # noqa: E402
from tests.pgserver import ThrowawayPostgres  # noqa: E402
from tests.servers import Route, Site, free_port, wait_for  # noqa: E402

LEASE = 3.0
OUTLETS = 6
STORIES = 6
HOOKS = ("/hook-a1", "/hook-a2")
OWED = 2  # messages per story and URL: its headline and one follow-up
# faults that may come between a message going out and its being recorded: the one message on
# the wire may go out again (killed connections and a restart fail that record for a while)
ON_THE_WIRE = {"pause", "kill", "terminate", "restart"}
RULES = "rules:\n  - name: alerte\n    any: [alerte]\n"


@dataclass
class Outcome:
    messages: int
    duplicates: int
    lost: int
    stall: float  # seconds, the healthy instance's longest wait between two /healthz answers


def story(number: int, salt: int) -> tuple[str, str]:
    words = random.Random(number * 1000 + salt).sample(range(100_000), 60)
    title = f"Alerte sur le dossier Vorquel{number}"
    return title, f"{title}. " + " ".join(f"mot{number}x{word}" for word in words) + "."


def publish(site: Site, salt: int) -> None:
    listed: dict[int, list[int]] = {}
    for number in range(STORIES):
        title, text = story(number, salt)
        page = (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
                f"<p>{text}</p></article></body></html>").encode()
        for outlet in (2 * number % OUTLETS, (2 * number + 1) % OUTLETS):
            listed.setdefault(outlet, []).append(number)
            site.routes[f"/o{outlet}/s{number}"] = Route(
                page, content_type="text/html; charset=utf-8", trickle=3.0)
    for outlet, numbers in listed.items():
        items = "".join(
            f"<item><title>{story(n, salt)[0]}</title><link>{site.url(f'/o{outlet}/s{n}')}"
            f"</link><description>{story(n, salt)[1]}</description>"
            "<pubDate>Mon, 24 Nov 2025 08:00:00 GMT</pubDate></item>" for n in numbers)
        site.routes[f"/feed{outlet}.xml"] = Route(
            (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>Outlet {outlet}</title>{items}</channel></rss>").encode())


class HealthWatch:
    """Asks an instance's /healthz four times a second; keeps the longest wait between two
    answers (a refused or failed answer counts as no answer)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    answer.read()
                now = time.monotonic()
                self.longest = max(self.longest, now - last)
                last = now
            except OSError:
                self.longest = max(self.longest, time.monotonic() - last)
            self._stop.wait(0.25)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(35)
        return self.longest


def terminate_connections(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "backend_type = 'client backend' AND pid != pg_backend_pid()")


def run_round(kind: str, number: int, workdir: Path) -> Outcome:
    rng = random.Random(f"{kind}-{number}")
    with ThrowawayPostgres() as server, Site() as site:
        publish(site, number)
        host = site.base.split("//")[1]
        feeds = [{"name": f"Outlet {n}", "url": site.url(f"/feed{n}.xml")}
                 for n in range(OUTLETS)]
        health_port = free_port()
        configs = []
        for instance in (1, 2):
            directory = workdir / f"{kind}-{number}-inst{instance}"
            directory.mkdir(parents=True)
            configs.append(write_config(
                directory, feeds, {"a": [f"json://{host}{hook}" for hook in HOOKS]}, ["a"],
                RULES, workers=0, lease=f"{LEASE}s", watch_rules=False,
                instance=f"inst{instance}", database=server.url,
                dedup={"followups": "message"}, poll={"interval": "30s", "tick": "1s"},
                **({"http": {"listen": f"127.0.0.1:{health_port}"}} if instance == 2 else {}),
                network={"allow_private_addresses": True, "timeout": "30s", "per_host": 64,
                         "concurrency": 64}))
        os.environ.pop("MONITOR_DATABASE", None)
        daemons = [Daemon(configs[0]), Daemon(configs[1])]
        watch = HealthWatch(health_port)
        try:
            wait_for(lambda: all("monitor running" in d.log() or not d.alive() for d in daemons),
                     timeout=60)
            watch.start()
            time.sleep(rng.uniform(1.0, 5.0))
            faults: dict[str, Callable[[], None]] = {
                "pause": lambda: pause(daemons[0], 3 * LEASE),
                "kill": lambda: daemons.append(kill_and_restart(daemons[0], configs[0])),
                "terminate": lambda: terminate_connections(server.url),
                "restart": server.restart,
                "failed-write": lambda: refuse_writes(server.url, 2 * LEASE),
            }
            faults[kind]()

            def counts() -> Counter[tuple[str, int]]:
                return Counter((hook, int(found.group(1))) for hook in HOOKS
                               for alert in posted_alerts(site, hook)
                               if (found := re.search(r"Vorquel(\d+)", alert["title"])))

            try:
                wait_for(lambda: all(counts()[(hook, n)] >= OWED for hook in HOOKS
                                     for n in range(STORIES)), timeout=120)
                time.sleep(2 * LEASE)  # a late repeat would come now
            except AssertionError:
                pass  # counted as lost below
            stall = watch.stop()
            found = counts()
            owed = [(hook, n) for hook in HOOKS for n in range(STORIES)]
            return Outcome(sum(found.values()),
                           sum(max(0, found[key] - OWED) for key in owed),
                           sum(max(0, OWED - found[key]) for key in owed), stall)
        finally:
            watch.stop()
            for daemon in daemons:
                if daemon.alive():
                    os.killpg(daemon.process.pid, signal.SIGCONT)
                daemon.close()


def pause(daemon: Daemon, seconds: float) -> None:
    os.killpg(daemon.process.pid, signal.SIGSTOP)
    time.sleep(seconds)
    os.killpg(daemon.process.pid, signal.SIGCONT)


def kill_and_restart(daemon: Daemon, config: Path) -> Daemon:
    os.killpg(daemon.process.pid, signal.SIGKILL)
    daemon.process.wait()
    time.sleep(1.0)
    return Daemon(config)


def refuse_writes(url: str, seconds: float) -> None:
    """Completing an item fails (its state cannot be written) for `seconds`, then heals."""
    with psycopg.connect(url, autocommit=True) as db:
        fail_updates(db, "items", "state")
        time.sleep(seconds)
        heal_updates(db, "items")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--kinds", default="pause,kill,terminate,restart,failed-write")
    parser.add_argument("--first", type=int, default=0, help="number of the first round")
    parser.add_argument("--keep", type=Path, help="where failed rounds' logs are kept")
    parser.add_argument("--max-stall", type=float, default=LEASE,
                        help="longest /healthz stall allowed, seconds (default: one lease)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # servers and daemons stopped
    keep = args.keep or Path(tempfile.mkdtemp(prefix="monitor-faults-"))
    kinds = args.kinds.split(",")
    print(f"{args.rounds} round(s) per fault; 2 instances, lease {LEASE:g} s, {STORIES} stories "
          f"× {len(HOOKS)} URLs × {OWED} messages owed per round")
    print("| fault | rounds | messages | duplicates | lost | longest stall of the healthy "
          "instance |")
    print("|---|---|---|---|---|---|")
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        for kind in kinds:
            allowed = len(HOOKS) if kind in ON_THE_WIRE else 0
            outcomes, bad_rounds = [], []
            for number in range(args.first, args.first + args.rounds):
                outcome = run_round(kind, number, Path(directory))
                outcomes.append(outcome)
                if outcome.lost or outcome.duplicates > allowed or outcome.stall > args.max_stall:
                    bad_rounds.append(f"{kind} {number}: {outcome}")
                    for logs in Path(directory).glob(f"{kind}-{number}-inst*"):
                        shutil.copytree(logs, keep / logs.name, dirs_exist_ok=True)
            duplicates = sum(o.duplicates for o in outcomes)
            lost = sum(o.lost for o in outcomes)
            stall = max(o.stall for o in outcomes)
            bad = bool(bad_rounds)
            failed = failed or bad
            print(f"| {kind} | {len(outcomes)} | {sum(o.messages for o in outcomes)} | "
                  f"{duplicates} | {lost} | {stall:.1f} s |{' ✗' if bad else ''}", flush=True)
            for line in bad_rounds:
                print(f"  failed round {line} (logs in {keep})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
