"""The real day as a user would run it: `monitor once` on the 68 French feeds captured on
2025-02-10 (../shared/data/feeds), served from 127.0.0.1, with two rules that caught developing
stories that day. The articles' own pages cannot be had here, so every item is completed from its
feed's summary, as on a day when the outlets' sites are out of reach.

    python bench/realday.py [--runs 5]

Each run starts from a fresh database with the feeds listed in another random order, and prints
the headline alerts per rule (follow-ups wait for the digest and are counted apart), how many
stories the day made, and how long `once` took. The same stories in every run means the
clustering does not depend on the order of arrival.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT.parent / "shared" / "data" / "feeds"
CAPTURE = "fr_2025-02-10_"
RULES = """\
rules:
  - name: sommet-ia
    all: [sommet]
    any: [ia, "intelligence artificielle"]
  - name: louise
    all: [louise]
    any: [meurtre, essonne]
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(directory: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextlib.contextmanager
def day_database(feeds: list[Path], base: str) -> Iterator[tuple[Path, float]]:
    """`monitor once` on the day's feeds (in this order) from a fresh directory: its SQLite
    file, and how long `once` took; gone when the block ends."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "rules").mkdir()
        (directory / "rules" / "day.yaml").write_text(RULES, encoding="utf-8")
        config = {
            "database": "monitor.db", "rules": "rules/",
            "network": {"allow_private_addresses": True},
            "dedup": {"followups": "digest"},
            "poll": {"backfill": "all"},  # the day is 2025's: every item counts as news
            "feeds": [{"name": path.stem.removeprefix(CAPTURE), "url": f"{base}/{path.name}"}
                      for path in feeds],
            "notify": {"channels": {}, "default": ["console"]},
        }
        (directory / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "monitor", "once", "-q", "-c", "config.yaml"],
                              cwd=directory, capture_output=True, text=True, timeout=900,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"monitor once failed ({done.returncode}): {done.stderr[-2000:]}")
        yield directory / "monitor.db", seconds


def run_once(feeds: list[Path], base: str, seed: int) -> dict[str, object]:
    order = list(feeds)
    random.Random(seed).shuffle(order)
    with day_database(order, base) as (path, seconds), sqlite3.connect(path) as db:
        headlines = dict(db.execute(
            "SELECT rule, COUNT(*) FROM alerts WHERE kind = 'alert' GROUP BY rule"))
        followups = db.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'followup'").fetchone()[0]
        items = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        stories = db.execute(
            "SELECT COUNT(*) FROM stories WHERE merged_into IS NULL").fetchone()[0]
        partition = frozenset(
            frozenset(row[0].split("\n")) for row in db.execute(
                "SELECT group_concat(link, char(10)) FROM items i JOIN stories s "
                "ON s.id = i.story_id GROUP BY coalesce(s.merged_into, s.id)"))
    return {"seconds": seconds, "headlines": headlines, "followups": followups,
            "items": items, "stories": stories, "partition": partition}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    feeds = sorted(FEEDS.glob(f"{CAPTURE}*.xml"))
    if not feeds:
        print(f"realday: needs {CAPTURE}*.xml under {FEEDS} (absent): skipped")
        return
    server = serve(FEEDS)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"monitor once on {len(feeds)} real feeds of 2025-02-10 (summaries only), "
          f"{args.runs} runs in shuffled feed order")
    partitions = set()
    for seed in range(args.runs):
        result = run_once(feeds, base, seed)
        partitions.add(result["partition"])
        headlines = ", ".join(f"{rule} {count}" for rule, count in
                              sorted(result["headlines"].items()))  # type: ignore[attr-defined]
        print(f"  run {seed + 1}: {result['items']} items, {result['stories']} stories, "
              f"headline alerts: {headlines or 'none'}; {result['followups']} follow-ups "
              f"held for the digest; {result['seconds']:.1f} s")
    print(f"  same stories in every run: {'yes' if len(partitions) == 1 else 'NO'} "
          f"({len(partitions)} different partition(s) of the items)")
    server.shutdown()


if __name__ == "__main__":
    main()
