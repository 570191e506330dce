"""Polling a feed farm: monitor against the loop people write by hand, in the same run.

A server in its own process serves N realistic French RSS feeds (30 items, ~20 KB, gzip when
asked, ETag and 304, 50 ms of latency per answer that blocks no other request), spread over 32
loopback addresses (127.0.0.2 to 127.0.0.33) so that per-host limits apply as on the web; monitor
polls with 64 requests in flight, at most 4 per host. Each
contender polls every feed once (full cycle: every feed changed), then again (conditional cycle:
every answer a 304). Printed: seconds, feeds/s, CPU seconds per feed (this process and its
children), peak RSS, and the ratio to the home-grown loop.

    python bench/farm.py [--feeds 1000] [--homegrown-feeds 100]

The home-grown loop (`feedparser.parse(url)` one feed after another) is measured on fewer feeds
and scaled: it is linear, and a thousand feeds take it a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import multiprocessing
import random
import resource
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
HOSTS = 32
WORDS = ("gouvernement réforme retraites Assemblée nationale Sénat budget ministre président "
         "Ukraine Kiev Moscou Washington missiles Bruxelles Europe élections municipales grève "
         "SNCF tempête vigilance orange Bretagne inflation Insee chômage entreprises Bourse "
         "Paris Marseille Lyon Lille Toulouse tribunal procès enquête police justice santé "
         "hôpital médecins école enseignants climat sécheresse agriculteurs énergie").split()


def feed_body(number: int, version: int) -> bytes:
    rng = random.Random(number * 1000 + version)
    items = []
    for item in range(30):
        title = " ".join(rng.choice(WORDS) for _ in range(9)).capitalize()
        text = " ".join(rng.choice(WORDS) for _ in range(70))
        items.append(
            f"<item><title>{title}</title>"
            f"<link>http://127.0.0.1/article/{number}/{version}/{item}</link>"
            f"<guid isPermaLink='false'>{number}-{version}-{item}</guid>"
            f"<pubDate>Mon, 24 Nov 2025 {item % 24:02d}:{item % 60:02d}:00 +0100</pubDate>"
            f"<description><![CDATA[<p>{text}.</p>]]></description></item>")
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
            f"<title>Fil {number}</title><link>http://127.0.0.1/</link><language>fr</language>"
            f"<description>Flux de test {number}</description>{''.join(items)}"
            "</channel></rss>").encode()


def serve(port: int, feeds: int, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    bodies = {n: gzip.compress(feed_body(n, 1), 6) for n in range(feeds)}
    etags = {n: '"' + hashlib.sha1(bodies[n]).hexdigest()[:16] + '"' for n in range(feeds)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(LATENCY)  # in this request's thread: other requests go on
            number = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            if self.headers.get("If-None-Match") == etags[number]:
                self.send_response(304)
                self.send_header("ETag", etags[number])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = bodies[number]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etags[number])
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_header("Content-Encoding", "gzip")
            else:
                body = gzip.decompress(body)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = []
    for host in range(HOSTS):  # feeds are spread over hosts, as they are on the web
        server = ThreadingHTTPServer((address(host), port), Handler)
        server.daemon_threads = True
        server.request_queue_size = 1024
        servers.append(server)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    servers[0].serve_forever()


def address(host: int) -> str:
    """127.0.0.2, 127.0.0.3…: all loopback, each a different host for per-host limits."""
    return f"127.0.0.{2 + host}"


def feed_url(port: int, number: int) -> str:
    return f"http://{address(number % HOSTS)}:{port}/feed/{number}.xml"


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def homegrown(urls: list[str]) -> float:
    import feedparser

    etags: dict[str, str] = {}
    for url in urls:
        result = feedparser.parse(url, etag=etags.get(url))
        if result.get("etag"):
            etags[url] = result["etag"]
    return 0.0


async def monitor_cycles(config, rules, feeds: int) -> list[tuple[str, float, float]]:
    """Two cycles in one running pipeline, as the daemon polls: its worker processes started
    and its connections open, as they are after the first minutes of a daemon's life."""
    from monitor import app

    async with app.open_pipeline(config, rules) as pipeline:
        await pipeline.workers.run(len, b"")  # start the parsing processes (paid once)
        rows = []
        for label in ("monitor, full cycle", "monitor, 304 cycle"):
            started, cpu_started = time.perf_counter(), cpu()
            polls = await pipeline.poll_all(pipeline.enabled_feeds())
            seconds = time.perf_counter() - started
            worker_cpu = sum(_process_cpu(pid) for pid in pipeline.workers.pids())
            rows.append((label, seconds, (cpu() - cpu_started + worker_cpu - _last_worker_cpu(
                worker_cpu)) / feeds * 1000))
            failed = sum(poll.status == "failed" for poll in polls)
            if failed:
                label += f" ({failed} failed)"
                rows[-1] = (label, *rows[-1][1:])
    return rows


_seen_worker_cpu = [0.0]


def _last_worker_cpu(total: float) -> float:
    """Worker CPU already counted in an earlier cycle."""
    previous, _seen_worker_cpu[0] = _seen_worker_cpu[0], total
    return previous


def _process_cpu(pid: int) -> float:
    """CPU seconds of a running process, from /proc (its children are not waited for yet)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    import os

    return ticks / os.sysconf("SC_CLK_TCK")


def measure(label: str, run, feeds: int, scale: float = 1.0) -> tuple[str, float, float]:
    started, cpu_started = time.perf_counter(), cpu()
    run()
    seconds = (time.perf_counter() - started) * scale
    cpu_per_feed = (cpu() - cpu_started) / (feeds / scale) * 1000
    return label, seconds, cpu_per_feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--homegrown-feeds", type=int, default=100)
    args = parser.parse_args()

    from monitor import app
    from tests.servers import free_port

    port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    farm = multiprocessing.get_context("spawn").Process(target=serve,
                                                        args=(port, args.feeds, ready))
    farm.start()
    ready.wait(120)
    urls = [feed_url(port, n) for n in range(args.feeds)]
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config_path = Path(tmp) / "config.yaml"
            feeds = "\n".join(f"  - {{name: 'Fil {n}', url: '{url}'}}" for n, url in enumerate(urls))
            config_path.write_text(
                "database: farm.db\nrules: []\nworkers: 2\n"
                "network: {allow_private_addresses: true, concurrency: 64, per_host: 4}\n"
                f"feeds:\n{feeds}\n")
            config, rules = app.load(config_path)
            rows += asyncio.run(monitor_cycles(config, rules, args.feeds))
        few = urls[: args.homegrown_feeds]
        scale = args.feeds / len(few)
        rows.append(measure("home-grown loop, full cycle", lambda: homegrown(few), len(few),
                            scale))
    finally:
        farm.kill()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline = {"full": rows[2][1]}
    print(f"feed farm: {args.feeds} feeds of 30 items, 50 ms latency, {HOSTS} loopback hosts "
          f"(home-grown measured on {args.homegrown_feeds} and scaled)")
    for label, seconds, cpu_ms in rows:
        ratio = baseline["full"] / seconds if seconds else 0.0
        print(f"  {label:<30} {seconds:7.1f} s  {args.feeds / seconds:8.0f} feeds/s  "
              f"{cpu_ms:6.2f} ms CPU/feed  ×{ratio:.1f} vs home-grown full cycle")
    print(f"  peak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
