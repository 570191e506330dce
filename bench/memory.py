"""Memory of all the daemon's processes with the shipped rules, whose named-entity rule loads
spaCy's French model: entities recognised in a process of their own (the daemon's way) against
in each extraction worker (as before), in the same run.

The corpus pages of `bench/pipeline.py` are served locally and completed by the daemon's own
`Pipeline.process_pending` with 2 extraction workers and the rules of `rules/`; some items'
summaries name Zelensky in Budapest, so the entity rule needs the model. Printed: the sum of
the PSS of the daemon's process and all its descendants (fork server, workers, the entity
process) after the pass, and, for the daemon's way, once the idle entity process has stopped.

    python bench/memory.py [--articles 60]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from farm import memory_of_all_mb  # noqa: E402
from pipeline import pages, start_page_server  # noqa: E402


async def measure(directory: Path, port: int, articles: int, own_process: bool,
                  ) -> tuple[float, float | None, int]:
    """(MB after the pass, MB once the entity process stopped, items completed)."""
    from monitor.core.models import Entry
    from monitor.runners import app

    feed = f"http://127.0.0.1:{port}/feed.xml"
    path = directory / f"config-{own_process}.yaml"
    path.write_text(f"database: {directory / f'{own_process}.db'}\nworkers: 2\n"
                    f"rules: ['{ROOT / 'rules'}']\n"
                    "network: {allow_private_addresses: true, per_host: 32}\n"
                    f"feeds:\n  - {{name: Bench, url: '{feed}'}}\n")
    config, rules = app.load(path)
    async with app.open_pipeline(config, rules) as pipeline:
        entities = pipeline.context.entities
        if not own_process:
            pipeline.context.entities = None  # in the extraction workers, as before
        now = time.time()
        entries = [Entry(feed, f"a{n}", f"http://127.0.0.1:{port}/page/0/{n}.html",
                         f"Article {n}", "Volodymyr Zelensky attendu à Budapest." if n % 3 == 0
                         else "", None) for n in range(articles)]
        pipeline.store.feeds.record_success(feed, now=now, next_check=now + 60, etag=None,
                                            last_modified=None, body_hash=None, entries=entries)
        done = await pipeline.process_pending()
        after = memory_of_all_mb()
        rested = None
        if own_process and entities is not None:
            entities.close_if_idle(0.0)
            await asyncio.sleep(2.0)  # its process exits
            rested = memory_of_all_mb()
        return after, rested, done.processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=60)
    args = parser.parse_args()
    paths, where = pages()
    server, port = start_page_server(paths)
    print(f"memory of all the daemon's processes (PSS), 2 extraction workers, shipped rules, "
          f"{args.articles} articles ({where})")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for own_process in (False, True):
                after, rested, done = asyncio.run(
                    measure(Path(tmp), port, args.articles, own_process))
                label = ("entities in a process of their own" if own_process
                         else "entities in each extraction worker (before)")
                print(f"  {label:<46} {after:6.0f} MB after {done} articles"
                      + (f", {rested:.0f} MB once the idle entity process stopped"
                         if rested is not None else ""))
    finally:
        server.kill()


if __name__ == "__main__":
    main()
