"""Scale of state: what 100,000 stored articles cost the daemon, against an empty database.

    python bench/state.py [--articles 100000]

Fills a real SQLite store through the daemon's own Store calls with articles spread over the
last 120 days (French-like texts of ~3 KB, their fingerprints, stories, identity keys), then
times the operations a running daemon repeats, on the empty store and on the full one:
recording a poll (every item already known, or one new), completing an article, listing the
pending ones, assigning a story through the database's index, and pruning with
`retention: 90d`. Printed:
milliseconds per operation, the ratio full/empty, and the size of the database file.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.core.dedup import fingerprint  # noqa: E402
from monitor.core.models import Article, Entry, StoryAssignment  # noqa: E402
from monitor.store.store import Store  # noqa: E402

DAY = 86400.0
WINDOW = 72 * 3600.0  # dedup.window's default
FEEDS = 300
WORDS = ("gouvernement réforme retraites Assemblée nationale Sénat budget ministre président "
         "Ukraine Kiev Moscou Washington missiles Bruxelles Europe élections municipales grève "
         "SNCF tempête vigilance Bretagne inflation Insee chômage entreprises Bourse Paris "
         "Marseille Lyon Lille Toulouse tribunal procès enquête police justice santé hôpital "
         "médecins école enseignants climat sécheresse agriculteurs énergie").split()


class Corpus:
    """Articles with their fingerprints; 500 distinct texts reused (fingerprinting 100,000 would
    take longer than the rest of the benchmark), each copy under its own address and title."""

    def __init__(self, seed: int = 5) -> None:
        rng = random.Random(seed)
        self._texts = []
        for _ in range(500):
            words = [rng.choice(WORDS) if rng.random() < 0.3 else f"mot{rng.randrange(50_000)}"
                     for _ in range(450)]
            self._texts.append(" ".join(words).capitalize() + ".")
        self._prints = {}

    def article(self, number: int, feed: str, at: float) -> tuple[Entry, Article, object]:
        text = self._texts[number % len(self._texts)]
        when = datetime.fromtimestamp(at, UTC)
        entry = Entry(feed, f"id-{number}", f"https://www.example.fr/article/{number}.html",
                      f"Titre de l'article {number}", text[:200], when)
        article = Article(entry.link, entry.title, entry.summary, text, when, "Fil", "page",
                          feed_url=feed)
        key = number % len(self._texts)
        if key not in self._prints:
            self._prints[key] = fingerprint(article, at)
        return entry, article, self._prints[key]


def fill(store: Store, corpus: Corpus, count: int, now: float, first: int = 0) -> None:
    """`count` completed articles, evenly over the 120 days before `now`, 30 per poll; one in
    three starts a story, the others join the last one started."""
    story: int | None = None
    for start in range(first, first + count, 30):
        numbers = range(start, min(start + 30, first + count))
        at = now - 120 * DAY * (1 - (start - first) / count)
        feed = f"https://fil{start // 30 % FEEDS}.example.fr/rss.xml"
        made = [corpus.article(n, feed, at) for n in numbers]
        store.feeds.record_success(feed, now=at, next_check=at + 60, etag=None, last_modified=None,
                                   body_hash=None, entries=[entry for entry, _, _ in made])
        for pending, (_, article, print_) in zip(store.items.pending(), made, strict=False):
            joins = story if pending.id % 3 else None
            story, _ = store.items.complete(
                pending.id, now=at, article=article, fingerprint=print_, matched=[], alerts=[],
                assignment=StoryAssignment(joins, "new" if joins is None else "near-copy", 1.0))


def timed(run: Callable[[], object], repeat: int) -> float:
    """Milliseconds per call, the best of three rounds."""
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            run()
        rounds.append((time.perf_counter() - started) / repeat * 1000)
    return min(rounds)


def measure(store: Store, corpus: Corpus, now: float, fresh: int) -> dict[str, float]:
    """The daemon's repeated operations on `store`; new articles are numbered from `fresh`."""
    feed = "https://fil0.example.fr/rss.xml"
    known = [corpus.article(fresh + n, feed, now)[0] for n in range(30)]
    store.feeds.record_success(feed, now=now, next_check=now, etag=None, last_modified=None,
                               body_hash=None, entries=known)
    for pending in store.items.pending():  # keep the 30 known, not pending
        _, article, print_ = corpus.article(fresh, feed, now)
        store.items.complete(pending.id, now=now, article=article, fingerprint=print_,
                             assignment=StoryAssignment(None, "new"), matched=[], alerts=[])
    counter = iter(range(fresh + 100, fresh + 10_000_000))
    results = {}
    results["poll: 30 items, all known"] = timed(lambda: store.feeds.record_success(
        feed, now=now, next_check=now, etag=None, last_modified=None, body_hash=None,
        entries=known), 200)

    def one_new() -> None:
        entry = corpus.article(next(counter), feed, now)[0]
        store.feeds.record_success(feed, now=now, next_check=now, etag=None, last_modified=None,
                                   body_hash=None, entries=[*known[:29], entry])
    results["poll: 30 items, one new"] = timed(one_new, 200)
    results["list pending items"] = timed(lambda: store.items.pending(64), 200)

    def complete() -> None:
        [pending] = store.items.pending(1)
        _, article, print_ = corpus.article(next(counter), feed, now)
        store.items.complete(pending.id, now=now, article=article, fingerprint=print_,
                             assignment=StoryAssignment(None, "new"), matched=[], alerts=[])

    def complete_all() -> None:  # as many as one_new made pending: 600
        for _ in range(len(store.items.pending(10_000))):
            complete()

    started = time.perf_counter()
    count = len(store.items.pending(10_000))
    complete_all()
    results["complete an article"] = (time.perf_counter() - started) / max(1, count) * 1000
    results["assign a story (the database's index)"] = timed(
        lambda: store.stories.assign(corpus.article(next(counter), feed, now)[2], now, WINDOW), 100)
    results["articles in the index (2 windows)"] = len(store.items.recent_candidates(
        now - 2 * WINDOW))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args()
    corpus = Corpus()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        empty = Store(Path(tmp) / "empty.db")
        measure(empty, corpus, now, 30_000_000)  # warm-up: the WAL file grows to its size once
        baseline = measure(empty, corpus, now, 10_000_000)
        full_path = Path(tmp) / "full.db"
        full = Store(full_path)
        started = time.perf_counter()
        fill(full, corpus, args.articles, now)
        filled_in = time.perf_counter() - started
        size = full_path.stat().st_size / 2**20
        loaded = measure(full, corpus, now, 10_000_000)
        started = time.perf_counter()
        slimmed, _ = full.prune(now - 90 * DAY)
        pruned_in = time.perf_counter() - started
        pages = full._db.execute("PRAGMA page_count").fetchone()[0]
        free = full._db.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = full._db.execute("PRAGMA page_size").fetchone()[0]
        in_use = (pages - free) * page_size / 2**20
        after = measure(full, corpus, now, 20_000_000)

    print(f"scale of state: {args.articles:,} articles over 120 days, filled in {filled_in:.0f} s "
          f"through the Store ({args.articles / filled_in:,.0f} articles/s)")
    print(f"  {'operation':<35}{'empty':>10}{f'{args.articles:,} stored':>18}{'ratio':>8}"
          f"{'after prune':>14}")
    for name, base in baseline.items():
        if name.startswith("articles"):
            print(f"  {name:<35}{base:>7,.0f}{loaded[name]:>18,.0f}{'':>8}{after[name]:>14,.0f}")
            continue
        print(f"  {name:<35}{base:>7.2f} ms{loaded[name]:>15.2f} ms{loaded[name] / base:>7.2f}×"
              f"{after[name]:>11.2f} ms")
    print(f"  database file: {size:,.0f} MB ({size * 2**20 / args.articles / 1024:.1f} KB per "
          f"article); `retention: 90d` slimmed {slimmed:,} articles in {pruned_in:.1f} s, leaving "
          f"{in_use:,.0f} MB of pages in use (freed pages are reused, the file does not shrink)")


if __name__ == "__main__":
    main()
