"""Article pipeline: articles/s through page fetch → extraction → rules → story → store.

    python bench/pipeline.py [--quick]

A server in its own process serves the corpus's pages (`../shared/data/articles/` when present,
else the project's fixtures; the output says which); each page is listed as a new item of one
feed, and the daemon's own `Pipeline.process_pending` completes them all: fetch the page,
extract it with trafilatura in the worker processes, match the rules, assign the story, commit.
Measured with 1 and 2 worker processes and rules of 10, 1,000 and 10,000 terms; printed:
articles/s and the speed-up of two workers over one.

Each pipeline completes the corpus twice: a first pass with fresh worker processes (cold: their
heaps grow, their caches fill; shown in parentheses), then the measured pass, as a daemon's
workers run after their first minutes (they live as long as the daemon).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from farm import Server  # noqa: E402
from run import FIXTURES, SHARED, corpus, rules_with, term_list, vocabulary  # noqa: E402


def pages() -> tuple[list[Path], str]:
    found = [p for p in sorted(SHARED.glob("fr*.html")) if ".expected" not in p.name]  # not gold files
    if found:
        return found, f"{len(found)} French pages from ../shared/data/articles"
    found = sorted(FIXTURES.glob("*.html"))
    return found, f"{len(found)} fixture pages from tests/fixtures (../shared absent)"


def serve(paths: list[str], port: int, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    bodies = [Path(path).read_bytes() for path in paths]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            number = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            body = bodies[number % len(bodies)]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = Server(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


async def run_once(directory: Path, port: int, rules_file: Path, workers: int,
                   articles: int) -> tuple[float, float]:
    """Articles/s of one pipeline completing `articles` new items twice: (cold, warm)."""
    from monitor.core.models import Entry
    from monitor.runners import app

    feed = f"http://127.0.0.1:{port}/feed.xml"
    config_path = directory / f"config-{workers}-{rules_file.stem}.yaml"
    config_path.write_text(
        f"database: {directory / f'{config_path.stem}.db'}\nworkers: {workers}\n"
        f"rules: ['{rules_file}']\n"
        "network: {allow_private_addresses: true, per_host: 32}\n"
        f"feeds:\n  - {{name: Bench, url: '{feed}'}}\n")
    config, rules = app.load(config_path)
    async with app.open_pipeline(config, rules) as pipeline:
        await asyncio.gather(*(pipeline.context.workers.run(len, b"") for _ in range(2 * workers)))
        rates = []
        for run in range(2):
            now = time.time()
            entries = [Entry(feed, f"a{run}-{n}", f"http://127.0.0.1:{port}/page/{run}/{n}.html",
                             f"Article {n}", "", None) for n in range(articles)]
            pipeline.store.feeds.record_success(feed, now=now, next_check=now + 60, etag=None,
                                                last_modified=None, body_hash=None, entries=entries)
            started = time.perf_counter()
            processed = (await pipeline.process_pending()).processed
            rates.append(articles / (time.perf_counter() - started))
            assert processed == articles, (processed, articles)
    return rates[0], rates[1]


def start_page_server(paths: list[Path]) -> tuple[multiprocessing.process.BaseProcess, int]:
    """The corpus's pages served from a process of their own; (the process, its port)."""
    from tests.servers import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    server = context.Process(target=serve, args=([str(p) for p in paths], port, ready),
                             daemon=True)
    server.start()
    ready.wait(30)
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer articles, fewer rule sizes")
    args = parser.parse_args()
    paths, where = pages()
    extracted, _ = corpus()
    words = vocabulary(extracted)
    articles = len(paths) * (2 if args.quick else 3)
    server, port = start_page_server(paths)
    print(f"article pipeline: {articles} articles ({where}), page fetch → trafilatura → rules "
          "→ story → SQLite")
    print(f"  {'rule terms':<12}{'1 worker (cold)':>24}{'2 workers (cold)':>24}{'speed-up':>10}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            for count in (10, 1_000) if args.quick else (10, 1_000, 10_000):
                rules_file = rules_with(term_list(words, count, 0.01), directory)
                (cold_one, one), (cold_two, two) = (
                    asyncio.run(run_once(directory, port, rules_file, workers, articles))
                    for workers in (1, 2))
                print(f"  {count:<12,}{one:>10.0f} art/s ({cold_one:4.0f}){two:>11.0f} art/s "
                      f"({cold_two:4.0f}){two / one:>9.2f}×")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
