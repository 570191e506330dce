"""The web console's pages on a small and a large database: server time per page.

    python bench/console.py [--articles 100000] [--baseline 1000]

Fills two real SQLite stores through the daemon's own Store calls (300 feeds, articles over the
last 120 days, one in three starting a story, 5 % matching one of 10 rules, an alert for each
match: sent, dead or pending), serves the console over HTTP on 127.0.0.1 (aiohttp's test
server, in this process) and reads each page 7 times. Printed per page: the median and worst
server time (its `Server-Timing` header, the handler's own time) on each store, and the ratio
large/small. The goal: every page under 200 ms with 100,000 articles.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from state import FEEDS, WORDS, Corpus  # noqa: E402

from monitor.core.models import Alert, StoryAssignment  # noqa: E402
from monitor.runners.app import load_config, load_rules  # noqa: E402
from monitor.store.store import Store  # noqa: E402
from monitor.web.console import Console  # noqa: E402
from monitor.web.server import build  # noqa: E402

DAY = 86400.0
RULES = 10
GOAL_MS = 200.0
REPEAT = 7


def write_config(folder: Path) -> Path:
    (folder / "rules").mkdir()
    rules = [{"name": f"regle-{n}", "any": [WORDS[n * 3]]} for n in range(RULES)]
    (folder / "rules" / "rules.yaml").write_text(yaml.safe_dump({"rules": rules}))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({
        "database": "monitor.db", "rules": "rules/",
        "feeds": [{"name": f"Fil {n}", "url": f"https://fil{n}.example.fr/rss.xml"}
                  for n in range(FEEDS)],
        "notify": {"channels": {"team": "json://bot:secret@127.0.0.1:9/hook"},
                   "default": ["team"]},
        "http": {"listen": "127.0.0.1:0"}}, allow_unicode=True))
    return path


def fill(store: Store, count: int, now: float) -> int:
    """`count` completed articles over 120 days, 30 per poll; returns a story with members."""
    corpus, rng = Corpus(), random.Random(11)
    store.feeds.sync([(f"https://fil{n}.example.fr/rss.xml", f"Fil {n}", True) for n in range(FEEDS)],
                     now - 120 * DAY)
    story: int | None = None
    sample = 0
    for start in range(0, count, 30):
        numbers = range(start, min(start + 30, count))
        at = now - 120 * DAY * (1 - start / count)
        feed = f"https://fil{start // 30 % FEEDS}.example.fr/rss.xml"
        made = [corpus.article(n, feed, at) for n in numbers]
        entries = [entry.__class__(entry.feed_url, entry.guid, entry.link,
                                   " ".join(rng.choice(WORDS) for _ in range(8)).capitalize(),
                                   entry.summary, entry.published) for entry, _, _ in made]
        store.feeds.record_success(feed, now=at, next_check=at + 600, etag='"e"', last_modified=None,
                                   body_hash=None, entries=entries)
        for pending, entry, (_, article, print_) in zip(store.items.pending(), entries, made,
                                                        strict=False):
            joins = story if pending.id % 3 else None
            matched = [f"regle-{rng.randrange(RULES)}"] if rng.random() < 0.05 else []
            alerts = [Alert(rule, "team", entry.title, {"title": entry.title})
                      for rule in matched]
            story, _ = store.items.complete(
                pending.id, now=at, article=article.__class__(
                    article.url, entry.title, article.summary, article.text, article.published,
                    f"Fil {start // 30 % FEEDS}", "page", feed_url=feed),
                fingerprint=print_, matched=matched, alerts=alerts,
                assignment=StoryAssignment(joins, "new" if joins is None else "near-copy", 1.0))
            sample = story
    rows = store.console.alert_rows(now=time.time(), limit=10_000_000)
    dead = [row.id for row in rows if row.id % 20 == 0]
    sent = [row.id for row in rows if row.id % 20 > 1]
    store.outbox.mark_failed(dead, error="HTTP 500 from the hook", retry_at=None)
    store.outbox.mark_sent(sent, now)
    return sample


async def measure(folder: Path, count: int) -> dict[str, tuple[float, float]]:
    config = load_config(write_config(folder))
    rules = load_rules(config)
    store = Store(config.database)
    now = time.time()
    started = time.perf_counter()
    story = fill(store, count, now)
    print(f"  {count:,} articles stored in {time.perf_counter() - started:.0f} s "
          f"({config.database.stat().st_size / 1e6:.0f} MB)", flush=True)
    pages = ["/healthz", "/flux", "/api/flux", "/flux/1", "/sujets", "/sujets?periode=90j",
             "/sujets?q=Ukraine+missiles&periode=30j", "/sujets?regle=regle-3&periode=90j",
             "/sujets?source=Fil+7&periode=30j", "/sujets?tri=taille&periode=24h",
             "/sujets?tri=etendue&periode=90j", "/sujets/N", "/flux/regles/regle-3.xml",
             "/flux/regles/regle-3.json", "/alertes",
             "/alertes?etat=dead", "/api/alertes", "/regles", "/testeur"]
    console = Console(config=lambda: config, rules=lambda: rules, store=store)
    found = {}
    async with TestClient(TestServer(build(console))) as client:
        for page in pages:
            times = []
            for _ in range(REPEAT):
                response = await client.get(page.replace("/N", f"/{story}"))
                assert response.status == 200, (page, response.status)
                await response.read()
                times.append(float(response.headers["Server-Timing"].split("dur=")[1]))
            found[page] = (statistics.median(times), max(times))
    store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    args = parser.parse_args()
    results = {}
    for count in (args.baseline, args.articles):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"filling a store with {count:,} articles…", flush=True)
            results[count] = asyncio.run(measure(Path(tmp), count))
    small, large = results[args.baseline], results[args.articles]
    print(f"\nserver time per page, ms (median / worst of {REPEAT})")
    print(f"{'page':<42} {args.baseline:>9,} arts  {args.articles:>9,} arts  ratio")
    worst = 0.0
    for page in large:
        (s_med, s_max), (l_med, l_max) = small[page], large[page]
        worst = max(worst, l_max) if page != "/healthz" else worst
        print(f"{page:<42} {s_med:7.1f} / {s_max:5.1f}  {l_med:7.1f} / {l_max:5.1f}  "
              f"{l_med / max(s_med, 0.1):5.1f}x")
    verdict = "under" if worst < GOAL_MS else "OVER"
    print(f"\nworst page at {args.articles:,} articles: {worst:.1f} ms ({verdict} the "
          f"{GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
