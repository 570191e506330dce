"""When stories of the real day would have been announced as spreading: `monitor once` on the
68 French feeds of 2025-02-10 (../shared/data/feeds, summaries only, as bench/realday.py), then
each story's articles replayed in the order they were published, through the function the
daemon's decision calls (`spread.outlets_within`), for several settings of `spread:` /
`notify.trending`.

    python bench/spread.py

For each setting: how many stories would have been announced (of how many, and of those carried
by that many outlets at all), and how long after the story's first article; then, for the two
rules of bench/realday.py, when each of their stories would have been.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.realday import CAPTURE, FEEDS, day_database, serve  # noqa: E402
from monitor.core.spread import Member, Spread, outlets_within, site  # noqa: E402

SETTINGS = [Spread(outlets, hours * 3600.0) for outlets in (2, 3, 4, 5) for hours in (1, 2, 6)]
PARIS = ZoneInfo("Europe/Paris")


def stories_of_the_day(base: str, feeds: list[Path]) -> list[list[Member]]:
    """Each story's articles (outlet, published, rules matched), from a real `monitor once`."""
    with day_database(feeds, base) as (path, _):
        stories: dict[int, list[Member]] = {}
        with sqlite3.connect(path) as db:
            for story, outlet, link, published, rules in db.execute(
                    "SELECT coalesce(s.merged_into, s.id), i.outlet, "
                    "coalesce(i.canonical_url, i.link), i.published, i.matched_rules "
                    "FROM items i JOIN stories s ON s.id = i.story_id "
                    "WHERE i.published IS NOT NULL"):
                stories.setdefault(story, []).append(
                    Member(outlet, site(link), published, tuple(json.loads(rules or "[]"))))
    return list(stories.values())


def announced(members: list[Member], spread: Spread) -> tuple[float, float] | None:
    """(first article, announcement) of a story, articles arriving as they were published;
    None when it never spreads that far that fast."""
    ordered = sorted(members, key=lambda member: member.at)
    for end in range(len(ordered)):
        if len(outlets_within(ordered[:end + 1], spread)) >= spread.outlets:
            return ordered[0].at, ordered[end].at
    return None


def _span(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    feeds = sorted(FEEDS.glob(f"{CAPTURE}*.xml"))
    if not feeds:
        print(f"spread: needs {CAPTURE}*.xml under {FEEDS} (absent): skipped")
        return
    server = serve(FEEDS)
    started = time.monotonic()
    stories = stories_of_the_day(f"http://127.0.0.1:{server.server_address[1]}", feeds)
    server.shutdown()
    sites = {m.site for story in stories for m in story}
    print(f"{len(stories)} stories of 2025-02-10 ({sum(map(len, stories))} dated articles, "
          f"{len(feeds)} feeds of {len(sites)} sites; `monitor once` "
          f"{time.monotonic() - started:.0f} s), replayed in order of publication")
    print(f"{'setting':<24}{'announced':>10}{'of those that far':>19}"
          f"{'delay after 1st article: median':>33}{'p90':>8}{'max':>8}")
    for spread in SETTINGS:
        found = [when for story in stories if (when := announced(story, spread))]
        reach = sum(len({m.site for m in story}) >= spread.outlets for story in stories)
        delays = sorted(at - first for first, at in found)
        p90 = delays[round(0.9 * (len(delays) - 1))] if delays else 0.0
        print(f"{spread.outlets} outlets within {_span(spread.within):<8}{len(found):>10}"
              f"{reach:>19}{_span(statistics.median(delays)) if delays else '-':>33}"
              f"{_span(p90) if delays else '-':>8}{_span(delays[-1]) if delays else '-':>8}")
    spread = Spread(3, 2 * 3600.0)
    for rule in ("sommet-ia", "louise"):
        print(f"rule {rule}, spread {{outlets: 3, within: 2h}}:")
        for story in stories:
            if not any(rule in member.rules for member in story):
                continue
            when = announced(story, spread)
            outlets = len({m.site for m in story})
            first = datetime.fromtimestamp(min(m.at for m in story), PARIS).strftime("%d/%m %H:%M")
            told = (f"announced {datetime.fromtimestamp(when[1], PARIS):%d/%m %H:%M}, "
                    f"{_span(when[1] - when[0])} after" if when else "not announced")
            print(f"  a story of {len(story)} article(s) from {outlets} outlet(s), first at "
                  f"{first}: {told}")


if __name__ == "__main__":
    main()
