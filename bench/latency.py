"""Alert latency: from the poll that sees a new item to its alert arriving at a webhook.

    python bench/latency.py [--items 30]

A local site publishes one new article at a time in a feed (with its page); each time, the
running pipeline polls (as its 60 s tick would), fetches and extracts the page in its worker
processes, matches, and delivers to a local json:// catcher. Printed: p50 and p95 of
(arrival − start of the poll that saw the item).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.runners import app  # noqa: E402
from tests.servers import Route, Site  # noqa: E402

PAGE = ("<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        "<p>{text}</p></article></body></html>")
WORDS = ("gouvernement réforme retraites Assemblée Sénat budget ministre président Kiev Moscou "
         "Bruxelles élections grève tempête inflation chômage Bourse tribunal enquête hôpital "
         "école climat agriculteurs énergie Marseille Lyon Lille Toulouse Bretagne Alsace").split()


def text(n: int) -> str:
    """A different article each time (the same text would rightly join one story)."""
    rng = random.Random(n)
    return "Tomahawk. " + " ".join(rng.choice(WORDS).lower() if rng.random() < 0.2
                                   else f"mot{rng.randrange(100_000)}" for _ in range(250))


def feed(site: Site, count: int) -> bytes:
    items = "".join(f"<item><title>Tomahawk, épisode {n}</title><link>{site.base}/a{n}</link>"
                    f"<guid>{n}</guid><description>Missiles, acte {n}.</description></item>"
                    for n in range(count))
    return f"<rss version='2.0'><channel><title>Fil</title>{items}</channel></rss>".encode()


async def run(site: Site, items: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(
            f"database: db.sqlite\nworkers: 2\nrules: rules.yaml\n"
            f"network: {{allow_private_addresses: true}}\n"
            f"feeds: [{{name: Fil, url: '{site.url('/feed.xml')}'}}]\n"
            f"notify: {{channels: {{hook: 'json://{site.base.split('//')[1]}/hook'}}, "
            f"default: [hook]}}\n")
        (Path(tmp) / "rules.yaml").write_text("rules:\n  - {name: r, any: [tomahawk]}\n")
        config, rules = app.load(path)
        latencies = []
        async with app.open_pipeline(config, rules) as pipeline:
            for n in range(items + 1):
                site.routes[f"/a{n}"] = Route(
                    PAGE.format(title=f"Tomahawk, épisode {n}", text=text(n))
                    .encode(), content_type="text/html; charset=utf-8")
                site.routes["/feed.xml"] = Route(feed(site, n + 1))
                started = time.monotonic()
                await pipeline.run_pass(pipeline.enabled_feeds())
                posts = site.got("POST", "/hook")
                assert len(posts) == n + 1, "each new article must give one alert"
                if n > 0:  # the first pass starts the worker processes: not a steady state
                    latencies.append(posts[-1].at - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    with Site() as site:
        latencies = asyncio.run(run(site, args.items))
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(f"alert latency over {len(latencies)} items (poll → page → extraction → match → "
          f"json:// catcher): p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
