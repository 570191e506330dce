"""The word caches over months of real news: memory they keep, CPU they save.

Each item of the rssTrends capture (`--repo`: a clone of antoninfaure/rssTrends, by default
where `fetch` puts it: a public repository's daily snapshots of French outlets, titles and
summaries), day after day, goes through what a long-running daemon does to every item from
its summary: the worker's `analysis.analyse` (text, terms, events, fingerprint) and the
daemon's rule scan over the shipped rules. The four word caches (`text.fold_word`, `terms.term`, `terms.stem`,
`events._telling`) are rebuilt at the sizes asked for before the modules that use them are
imported, and wordfreq's own cache of lookups is set; each size runs in a fresh process, in
turn, `--rounds` times.

Printed per size: CPU per item (the second half of the days: caches warm, as in a daemon
running for months) and how much the process's RSS grew over the days (after a collection).

    python bench/words.py [--days 60] [--sizes 131072,131072,65536,65536,100000 --sizes …]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLONE = Path("/work/.mirror/antoninfaure+rssTrends/repo")
BEFORE = "131072,131072,65536,65536,100000"  # until 2026-12-07
SHIPPED = "16384,16384,4096,8192,4096"
RESULT = "RESULT "
DAY = re.compile(r"\d\d-\d\d-\d{4}")


def _days(repo: Path, count: int) -> list[tuple[datetime, list[dict[str, str]]]]:
    repo = repo / ".git" if (repo / ".git").exists() else repo  # a working clone, or a bare one
    names = subprocess.run(["git", f"--git-dir={repo}", "ls-tree", "-r", "--name-only", "HEAD",
                            "data/"],
                           capture_output=True, text=True, check=True).stdout.split()
    dated = sorted((datetime.strptime(Path(n).parent.name, "%d-%m-%Y").replace(tzinfo=UTC), n)
                   for n in names if Path(n).name == "news.json" and DAY.fullmatch(Path(n).parent.name))
    out = []
    for day, name in dated[:count]:
        raw = subprocess.run(["git", f"--git-dir={repo}", "show", f"HEAD:{name}"],
                             capture_output=True, check=True).stdout
        out.append((day, json.loads(raw)))
    return out


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _rewrap(module: object, name: str, size: int) -> None:
    setattr(module, name, lru_cache(maxsize=size)(getattr(module, name).__wrapped__))


def measure(repo: Path, days: int, sizes: list[int]) -> dict[str, float]:
    """In this process: the caches at `sizes`, then every item of `days` days."""
    from monitor.core import text
    _rewrap(text, "fold_word", sizes[0])  # before the modules importing it by name
    from monitor.core import terms
    _rewrap(terms, "term", sizes[1])
    _rewrap(terms, "stem", sizes[2])
    terms.load_frequencies()  # as the workers' fork server does
    import wordfreq
    wordfreq.CACHE_SIZE = sizes[4]
    from monitor.core import events
    _rewrap(events, "_telling", sizes[3])
    from monitor.core import analysis, rulefiles
    from monitor.core.models import Entry

    rules = rulefiles.load([ROOT / "rules"], None, ["console"])
    captured = _days(repo, days)
    gc.collect()
    before = _rss_mb()
    half, cpu, items = len(captured) // 2, 0.0, 0
    for index, (day, news) in enumerate(captured):
        started = time.process_time()
        for number, item in enumerate(news):
            entry = Entry("https://example.org/feed", None, item.get("link"),
                          item.get("title") or "", item.get("summary") or "",
                          day + timedelta(seconds=number))
            article, _ = analysis.analyse(entry, None, "example.org", (), day.timestamp())
            rules.scan(article)
        if index >= half:
            cpu += time.process_time() - started
            items += len(news)
    gc.collect()
    return {"cpu_ms": cpu / max(items, 1) * 1000, "held_mb": _rss_mb() - before,
            "fold_word": text.fold_word.cache_info().currsize,
            "term": terms.term.cache_info().currsize, "stem": terms.stem.cache_info().currsize,
            "telling": events._telling.cache_info().currsize,
            "items": sum(len(news) for _, news in captured)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--sizes", action="append",
                        help="fold_word,term,stem,telling,wordfreq cache sizes (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repo", type=Path, default=CLONE)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sizes = [int(size) for size in args.child.split(",")]
        print(RESULT + json.dumps(measure(args.repo, args.days, sizes)))
        return
    if not args.repo.exists():
        raise SystemExit(f"{args.repo}: no rssTrends clone (fetch github:antoninfaure/rssTrends)")
    results: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for sizes in args.sizes or [BEFORE, SHIPPED]:
            out = subprocess.run([sys.executable, __file__, "--child", sizes, "--days",
                                  str(args.days), "--repo", str(args.repo)],
                                 capture_output=True, text=True, check=True).stdout
            result = json.loads(out.split(RESULT, 1)[1])
            results.setdefault(sizes, []).append(result)
            print(f"{sizes:>28}: {result['items']:.0f} items, CPU {result['cpu_ms']:.3f} ms/item "
                  f"(warm half), RSS grew {result['held_mb']:.1f} MB; "
                  f"entries {result['fold_word']:.0f} / {result['term']:.0f} / "
                  f"{result['stem']:.0f} / {result['telling']:.0f}", flush=True)
    base = results[next(iter(results))]
    for sizes, runs in results.items():
        cpu = sorted(run["cpu_ms"] for run in runs)
        held = sorted(run["held_mb"] for run in runs)
        print(f"{sizes:>28}: CPU {cpu[0]:.3f}–{cpu[-1]:.3f} ms/item "
              f"(×{sorted(r['cpu_ms'] for r in base)[0] / cpu[0]:.2f} the first's best), "
              f"RSS grew {held[0]:.1f}–{held[-1]:.1f} MB")


if __name__ == "__main__":
    main()
