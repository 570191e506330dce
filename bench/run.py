"""Every benchmark, each printing figures and ratios against a baseline measured in the same run.

    python bench/run.py [--quick] [--only SECTION ...]

Sections: rule matching (10 → 10,000 terms) against one big regular expression alternation;
story clustering quality on the labelled sets (ours, a real week, a held-out day, real pages)
and assignment speed with 1,000 and 100,000 stored articles against comparing with every one;
then, each in its own script and process,
extraction quality and speed (bench/extraction.py), the article pipeline with 1 and 2 workers
(bench/pipeline.py), polling a feed farm of 1,000 and 10,000 feeds side by side with `reader`
and the home-grown loop (bench/farm.py), a real `monitor run`'s first cycle on 1,000 feeds until
every item is completed, beside reader (bench/daemon.py), alert latency (bench/latency.py), the scale of
state at 100,000 articles (bench/state.py), `monitor once` on the real day of 68 feeds with
shuffled feed orders (bench/realday.py), the console's pages (bench/console.py) and 1, 2 and 3
instances on PostgreSQL against one on SQLite (bench/cluster.py), and attacks on a running
daemon with its /healthz latency beside a baseline (bench/attacks.py). The corpus is
`../shared/data/articles/` when present (real French pages), else the project's own
fixtures; each section says which. About 10 minutes in full on 2 cores, 2 with --quick.
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.core.dedup import Fingerprint, fingerprint, same_story  # noqa: E402
from monitor.core.extract import extract  # noqa: E402
from monitor.core.models import Article, Entry  # noqa: E402
from monitor.core.rulefiles import load  # noqa: E402
from monitor.core.storyindex import StoryIndex  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "articles"
FIXTURES = ROOT / "tests" / "fixtures" / "pages"


def corpus() -> tuple[list[Article], str]:
    pages = [p for p in sorted(SHARED.glob("fr*.html")) if ".expected" not in p.name]  # not gold files
    where = f"{len(pages)} French pages from ../shared/data/articles"
    if not pages:
        pages = sorted(FIXTURES.glob("*.html"))
        where = f"{len(pages)} fixture pages from tests/fixtures (../shared absent)"
    articles = []
    for page in pages:
        article = extract(Entry("", None, None, page.stem, "", None), page.read_bytes(), "bench")
        if article.source == "page":
            articles.append(article)
    return articles, where


def vocabulary(articles: list[Article]) -> list[str]:
    """Real words of the corpus (so terms do occur), in a fixed random order."""
    words = sorted({w.lower() for a in articles for w in re.findall(r"[^\W\d_]{5,}", a.text)})
    random.Random(7).shuffle(words)
    return words


def rules_with(terms: list[str], directory: Path) -> Path:
    """Rules of five `any` terms each, written as a user would."""
    lines = ["rules:"]
    for i in range(0, len(terms), 5):
        quoted = ", ".join(f'"{t}"' for t in terms[i:i + 5])
        lines.append(f"  - {{name: r{i}, any: [{quoted}]}}")
    path = directory / f"bench-{len(terms)}.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def per_second(function, articles: list[Article], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for article in articles:
            function(article)
        done += len(articles)
    return done / (time.perf_counter() - started)


def term_list(words: list[str], count: int, occurring: float) -> list[str]:
    """`count` terms, a share `occurring` of them words of the corpus, the rest made-up names
    that never occur (a watch list is mostly names that are absent from any one article)."""
    real = max(1, int(count * occurring))
    chosen = (words * (real // len(words) + 1))[:real]
    return chosen + [f"zzq{i}x" for i in range(count - len(chosen))]


def bench_matching(quick: bool) -> list[tuple[str, ...]]:
    articles, where = corpus()
    words = vocabulary(articles)
    seconds = 0.5 if quick else 2.0
    rows = [("rule matching", where, "baseline in the same run", "ratio")]
    with tempfile.TemporaryDirectory() as tmp:
        for occurring, label in ((0.01, "1% of terms occur in the corpus"),
                                 (1.0, "every term occurs (worst case)")):
            rows.append((label, "", "", ""))
            for count in (10, 1_000, 10_000):
                terms = term_list(words, count, occurring)
                started = time.perf_counter()
                ruleset = load([rules_with(terms, Path(tmp))], None, ["console"])
                compile_s = time.perf_counter() - started
                ours = per_second(ruleset.match, articles, seconds)
                alternation = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b",
                                         re.IGNORECASE)
                baseline = per_second(lambda a, r=alternation: r.findall(a.text), articles,
                                      seconds if count <= 1000 else seconds / 2)
                rows.append((f"  {count:,} terms",
                             f"{ours:,.0f} articles/s (compile {compile_s:.2f} s)",
                             f"one regex alternation: {baseline:,.0f} articles/s",
                             f"×{ours / baseline:.1f}"))
    return rows


def bench_stories(quick: bool) -> list[tuple[str, ...]]:
    """Clustering quality on the labelled sets (ours; the real day of 2025-02-10, summaries only;
    the real pages, full text), the same stories whatever the order of arrival, then assignment
    speed with 1,000 and 100,000 stored articles against comparing with every stored article."""
    sys.path.insert(0, str(Path(__file__).parent))
    from stories_eval import (
        HELD_OUT,
        RSSTRENDS_SETS,
        evaluate,
        load,
        load_real_day,
        load_real_pages,
        load_rsstrends,
        rsstrends_capture,
        shuffled_orders,
    )

    sets = [("ours (bench/data/stories.yaml)", load)]
    if (ROOT.parent / "shared" / "data" / "feeds").is_dir():
        sets += [("real day 2025-02-10, summaries", load_real_day),
                 ("held out, 2024-01-18, summaries", lambda: load_real_day(HELD_OUT)),
                 ("real pages, full text", load_real_pages)]
    for name, labels in RSSTRENDS_SETS:
        if rsstrends_capture(labels) is not None:
            sets.append((f"{name}, summaries", functools.partial(load_rsstrends, labels)))
        else:
            print(f"({name} skipped: its capture is not here; see bench/stories_eval.py)")
    rows = []
    for name, loader in sets:
        items = loader()
        score = evaluate(items)
        partitions = {evaluate(items, order=order).partition
                      for order in shuffled_orders(len(items), 2 if quick else 5)}
        rows.append((f"stories: {name}",
                     f"{len(items)} articles, {len({i.group for i in items})} labelled stories",
                     f"pairwise P {score.precision:.3f} R {score.recall:.3f}",
                     f"B-cubed F1 {score.bcubed_f1:.3f}; {score.stories} found, shuffled: "
                     f"{'same' if partitions == {score.partition} else 'DIFFERENT'}"))
    queries = [fingerprint(item.article, item.article.published.timestamp()) for item in load()
               if item.article.published]
    rng = random.Random(3)
    words = sorted({term for q in queries for term in q.vector})
    now = max(q.at for q in queries)
    for stored in (1_000, 100_000):
        filler = [_filler(rng, words, now) for _ in range(stored)]
        index = StoryIndex(72 * 3600)
        started = time.perf_counter()
        for number, fp in enumerate(filler):
            index.add(number, fp, now=now)
        build = time.perf_counter() - started
        rounds = 3 if quick else 10
        started = time.perf_counter()
        for _ in range(rounds):
            for query in queries:
                index.assign(query)
        ours = rounds * len(queries) / (time.perf_counter() - started)
        sample = filler[: min(stored, 20_000)]
        started = time.perf_counter()
        for query in queries[:10]:
            for member in sample:
                same_story(query, member)
        scan = 10 / ((time.perf_counter() - started) * stored / len(sample))
        rows.append((f"  assign, {stored:,} stored", f"{ours:,.0f} articles/s "
                     f"(index built in {build:.1f} s)", f"compare with all: {scan:,.1f} articles/s",
                     f"×{ours / scan:,.0f}"))
        in_database, filed = _stored_assign(filler, queries, now, rounds)
        rows.append((f"  assign, {stored:,} stored, the daemon's (SQLite)",
                     f"{in_database:,.0f} articles/s (filed in {filed:.1f} s)",
                     f"in memory: {ours:,.0f} articles/s", f"×{in_database / ours:.2f}"))
    return rows


def _stored_assign(filler: list[Fingerprint], queries: list[Fingerprint], now: float,
                   rounds: int) -> tuple[float, float]:
    """Articles/s assigned as the daemon does, through the story index in a SQLite file holding
    `filler` (written straight into the tables, filed as `items.complete` files them)."""
    import tempfile

    from monitor.store import stories
    from monitor.store.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "monitor.db")
        started = time.perf_counter()
        with store.transaction() as db:
            db.execute("INSERT INTO stories (id, title, first_seen, last_seen) VALUES (1, 't', 0, 0)")
            db.executemany("INSERT INTO items (id, feed_url, title, summary, seen_at, state, "
                           "story_id, processed_at) VALUES (?, 'f', 't', 's', ?, 'done', 1, ?)",
                           [(n + 1, now, now) for n in range(len(filler))])
            db.executemany("INSERT INTO articles (item_id, text, fingerprint) VALUES (?, '', ?)",
                           [(n + 1, stories.dump_fingerprint(fp)) for n, fp in enumerate(filler)])
            for n, fp in enumerate(filler):
                stories.file(db, n + 1, fp)
        filed = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(rounds):
            for query in queries:
                store.stories.assign(query, now, 72 * 3600)
        speed = rounds * len(queries) / (time.perf_counter() - started)
        store.close()
    return speed, filed


def _filler(rng: random.Random, words: list[str], now: float) -> Fingerprint:
    """A stored article of another story: its own text, and terms drawn as news vocabulary is,
    mostly from a large vocabulary (30,000 words), one in ten from the queries' own terms."""
    import numpy as np

    from monitor.core.dedup import TOP_TERMS
    from monitor.core.terms import top_terms

    weights = {rng.choice(words) if rng.random() < 0.1 else f"w{rng.randrange(30_000)}":
               rng.uniform(0.5, 4.0) for _ in range(20)}
    norm = sum(w * w for w in weights.values()) ** 0.5
    vector = {term: w / norm for term, w in weights.items()}
    values = np.array([rng.getrandbits(32) for _ in range(64)], dtype="<u8")
    return Fingerprint(vector, f"{rng.getrandbits(64):x}", values.tobytes(), 200,
                       now - rng.uniform(0, 48 * 3600), top=top_terms(vector, TOP_TERMS))


SCRIPTS = {  # section: (full run's arguments, --quick's)
    "extraction": ([[]], [[]]),
    "pipeline": ([[]], [["--quick"]]),
    "farm": ([["--feeds", "1000"], ["--feeds", "10000"]],
             [["--feeds", "200", "--homegrown-feeds", "20"]]),
    "daemon": ([["--feeds", "1000"]], [["--feeds", "200", "--no-reader"]]),
    "latency": ([["--items", "30"]], [["--items", "10"]]),
    "state": ([["--articles", "100000"]], [["--articles", "10000"]]),
    "realday": ([["--runs", "5"]], [["--runs", "2"]]),
    "console": ([["--articles", "100000"]], [["--articles", "10000"]]),
    "cluster": ([["--feeds", "1000"]], [["--feeds", "200", "--instances", "1,2"]]),
    "attacks": ([[]], [["--slow", "500", "--logins", "20"]]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", action="append", choices=["matching", "stories", *SCRIPTS],
                        help="run only these sections (repeatable)")
    args = parser.parse_args()
    wanted = set(args.only or ["matching", "stories", *SCRIPTS])
    rows = (bench_matching(args.quick) if "matching" in wanted else []) + \
        (bench_stories(args.quick) if "stories" in wanted else [])
    if rows:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for name, (full, quick) in SCRIPTS.items():
        if name in wanted:
            for extra in quick if args.quick else full:
                print(flush=True)
                subprocess.run([sys.executable, str(Path(__file__).parent / f"{name}.py"), *extra],
                               check=True)


if __name__ == "__main__":
    main()
