"""Polling a feed farm: monitor side by side with what users run instead, in the same run.

A server in its own process serves N realistic French RSS feeds (30 items, ~20 KB, gzip when
asked, ETag and 304, 50 ms of latency per answer that blocks no other request), spread over 32
loopback addresses (127.0.0.2 to 127.0.0.33) so that per-host limits apply as on the web. Each
contender runs in a process of its own and polls every feed three times: a full cycle (every
feed new), a steady cycle (every feed changed: 2 new items on top of the 30 it listed, what a
daemon sees all day), then a conditional cycle (every answer a 304):

- monitor: one running pipeline, 64 requests in flight, at most 4 per host, 2 parser
  processes, polling as the daemon does (`poll_due`: its lanes claim due feeds as they free
  up, leases and all); `monitor once` is the same pipeline through `monitor once`'s path
  (`poll_all`: the list of feeds given at once, no claims);
- the `reader` library (PyPI `reader`, `update_feeds(workers=16)`, `scheduled=False` for the
  second cycle), when installed (`pip install reader sgmllib3k`);
- the home-grown loop, `feedparser.parse(url, etag=…)` one feed after another, measured on a
  sample and scaled (it is linear: a thousand feeds take it a minute).

Printed: seconds, feeds/s, CPU per feed (the contender's processes, its children included),
peak RSS, and ratios to the home-grown loop and to reader.

    python bench/farm.py [--feeds 1000] [--homegrown-feeds 100] [--repeat-304 N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import hashlib
import itertools
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
HOSTS = 32
STORY_SHARE = 10  # articles per story on average: outlets report the same events


@functools.cache
def _vocabulary() -> tuple[list[str], list[float]]:
    """French words and cumulative weights that follow their frequency (Zipf): texts that
    share common words by chance, and rare ones only when they tell the same story."""
    import wordfreq

    words = [word for word in wordfreq.top_n_list("fr", 20000) if word.isalpha() and len(word) > 1]
    return words, list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))


def _story_words(story: int) -> list[str]:
    words, _ = _vocabulary()
    rng = random.Random(-1 - story)
    return [rng.choice(words[1500:]) for _ in range(10)]


def feed_body(number: int, version: int, stories: int, new: int = 0) -> bytes:
    """Feed `number`'s 30 items of `version`, after `new` items more (of version + 1)."""
    return _feed(number, _items(number, version + 1, new, stories)
                 + _items(number, version, 30, stories))


def _items(number: int, version: int, count: int, stories: int) -> list[str]:
    """`count` items of feed `number`: each tells one of `stories` stories in words of its own
    around the story's."""
    words, weights = _vocabulary()
    rng = random.Random(number * 1000 + version)
    items = []
    for item in range(count):
        told = _story_words(rng.randrange(stories))
        title = " ".join(told[:4] + rng.choices(words, cum_weights=weights, k=5)).capitalize()
        summary = told + rng.choices(words, cum_weights=weights, k=60)
        rng.shuffle(summary)
        items.append(
            f"<item><title>{title}</title>"
            f"<link>http://127.0.0.1/article/{number}/{version}/{item}</link>"
            f"<guid isPermaLink='false'>{number}-{version}-{item}</guid>"
            f"<pubDate>Mon, 24 Nov 2025 {item % 24:02d}:{item % 60:02d}:00 +0100</pubDate>"
            f"<description><![CDATA[<p>{' '.join(summary)}.</p>]]></description></item>")
    return items


def _feed(number: int, items: list[str]) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
            f"<title>Fil {number}</title><link>http://127.0.0.1/</link><language>fr</language>"
            f"<description>Flux de test {number}</description>{''.join(items)}"
            "</channel></rss>").encode()


class Server(ThreadingHTTPServer):
    """A threaded server with a listen backlog for a crowd: with the default of 5, connections
    from 64 clients at once lose SYNs and wait for their retransmission (1 s, 3 s, 7 s…): this
    was the "occasional 30 s timeout" seen against a farm on one host."""

    request_queue_size = 1024  # read by listen() when the server starts: a class attribute
    daemon_threads = True


NETWORK, NETWORK_DEFAULT = "FARM_NETWORK", "concurrency: 64, per_host: 4"  # monitor's settings
CYCLES = ("full cycle", "steady cycle", "304 cycle")
REPEAT = "FARM_REPEAT_304"  # 304 cycles after the first, read by each contender's process


def cycle_labels() -> list[str]:
    """The cycles each contender polls: `--repeat-304 N` adds N more 304 cycles (one 304 cycle
    of 1,000 feeds lasts half a second: a few more in the same process steady its figures)."""
    more = int(os.environ.get(REPEAT, "0"))
    return [*CYCLES, *(f"304 cycle #{n + 2}" for n in range(more))]
STEADY_NEW = 2  # new items per feed in the steady cycle


def serve(port: int, feeds: int, hosts: int,
          ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """Version 0 of each feed (`GET /control/0`), or version 1: the same with 2 new items."""
    stories = max(1, feeds * 30 // STORY_SHARE)
    bodies = [{n: gzip.compress(feed_body(n, 1, stories, new), 6) for n in range(feeds)}
              for new in (0, STEADY_NEW)]
    etags = [{n: '"' + hashlib.sha1(body[n]).hexdigest()[:16] + '"' for n in range(feeds)}
             for body in bodies]
    version = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/control/"):
                version[0] = int(self.path.rsplit("/", 1)[-1])
                self.send_response(204)
                self.end_headers()
                return
            time.sleep(LATENCY)  # in this request's thread: other requests go on
            number = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            etag = etags[version[0]][number]
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = bodies[version[0]][number]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_header("Content-Encoding", "gzip")
            else:
                body = gzip.decompress(body)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = [Server((address(host), port), Handler) for host in range(hosts)]  # feeds are
    # spread over hosts, as they are on the web
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    servers[0].serve_forever()


def start_farm(feeds: int, hosts: int = HOSTS
               ) -> tuple[multiprocessing.process.BaseProcess, list[str]]:
    """The farm's server in a process of its own, ready; and its feeds' URLs."""
    from tests.servers import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    farm = context.Process(target=serve, args=(port, feeds, hosts, ready), daemon=True)
    farm.start()
    ready.wait(600)
    return farm, [feed_url(port, n, hosts) for n in range(feeds)]


def set_version(urls: list[str], cycle: str) -> None:
    """The farm serves what `cycle` polls: each feed as first served, or grown (from the
    steady cycle on: the 304 cycle asks for the grown one again)."""
    import urllib.request

    root = urls[0].split("/", 3)[:3]
    with urllib.request.urlopen("/".join([*root, f"control/{int(cycle != 'full cycle')}"])):
        pass


def address(host: int) -> str:
    """127.0.0.2, 127.0.0.3…: all loopback, each a different host for per-host limits."""
    return f"127.0.0.{2 + host}"


def feed_url(port: int, number: int, hosts: int = HOSTS) -> str:
    return f"http://{address(number % hosts)}:{port}/feed/{number}.xml"


@dataclass
class Cycle:
    label: str
    seconds: float
    cpu_seconds: float  # the contender's processes, children included
    feeds: int  # polled (a sample for the home-grown loop)
    scale: float = 1.0  # feeds in the farm / feeds polled
    failed: int = 0
    # monitor's only: CPU seconds of its event loop's thread, its other threads (the
    # database's, mostly), and its worker processes, so a regression shows where it is
    where: tuple[float, float, float] | None = None

    @property
    def total_seconds(self) -> float:
        return self.seconds * self.scale

    @property
    def cpu_ms_per_feed(self) -> float:
        return self.cpu_seconds / self.feeds * 1000


@dataclass
class Result:
    contender: str
    cycles: list[Cycle]
    peak_rss_mb: float  # the main process; workers apart
    worker_rss_mb: float = 0.0
    all_pss_mb: float = 0.0  # every process of the contender, after its cycles


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _cpu_seconds(stat: str, fields: slice) -> float:
    """The sum of `fields` (utime, stime, cutime, cstime are 11 to 14) of a /proc `stat`."""
    return sum(map(int, stat.rsplit(")", 1)[1].split()[fields])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds of a live process and of its children it has waited for (the fork server
    waits for the workers it forked: those of a renewed pool count there)."""
    return _cpu_seconds(_proc(pid, "stat"), slice(11, 15))


def process_tree(pid: int) -> list[int]:
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return [pid, *(found for child in children for found in process_tree(child))]


def descendants_cpu() -> float:
    """CPU seconds of this process's descendants (fork server, workers, resource tracker), live
    ones (a live child's time reaches RUSAGE_CHILDREN only once it is waited for) and those
    their parents waited for."""
    return sum(map(process_cpu, process_tree(os.getpid())[1:]))


def thread_cpu() -> tuple[float, float]:
    """CPU seconds of this process's main thread (the event loop's) and of its other threads
    (the database's, mostly)."""
    main = others = 0.0
    for task in Path("/proc/self/task").iterdir():
        seconds = _cpu_seconds((task / "stat").read_text(), slice(11, 13))
        if int(task.name) == os.getpid():
            main += seconds
        else:
            others += seconds
    return main, others


def _proc_mb(pid: int, name: str, field: str) -> float:
    """A kB field (`VmHWM:`, `Pss:`…) of a /proc file, in MB."""
    for line in _proc(pid, name).splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def _process_peak_mb(pid: int) -> float:
    return _proc_mb(pid, "status", "VmHWM:")


def memory_of_all_mb() -> float:
    """What this process and its descendants hold now, shared pages counted once (the sum of
    their PSS): the machine's memory a contender costs, whatever its number of processes."""
    return sum(_proc_mb(pid, "smaps_rollup", "Pss:") for pid in process_tree(os.getpid()))


def farm_config(directory: str, urls: list[str], settings: str = "database: farm.db\n") -> Path:
    """monitor's config for the farm: 64 requests in flight, 4 per host, 2 parser processes."""
    path = Path(directory) / "config.yaml"
    feeds = "\n".join(f"  - {{name: 'Fil {n}', url: '{url}'}}" for n, url in enumerate(urls))
    path.write_text(
        f"{settings}rules: []\nworkers: 2\nwatch_rules: false\n"
        f"network: {{allow_private_addresses: true, {os.environ.get(NETWORK, NETWORK_DEFAULT)}}}\n"
        f"feeds:\n{feeds}\n")
    return path


def run_monitor(name: str, urls: list[str], directory: str, profile: str | None) -> Result:
    """Two cycles in one running pipeline: its parser processes started and its connections
    open, as they are after a daemon's first minute. `monitor` polls as the daemon's poll job
    does (every feed due: its lanes claim them), `monitor once` as `monitor once` does."""
    from monitor.runners import app

    config, rules = app.load(farm_config(directory, urls))
    async def cycles() -> Result:
        async with app.open_pipeline(config, rules) as pipeline:
            await asyncio.gather(*(pipeline.context.workers.run(len, b"") for _ in range(4)))  # started
            result = Result(name, [], 0.0)
            workers_before = descendants_cpu()
            for label in cycle_labels():
                set_version(urls, label)
                for url in urls:  # every feed due (the first cycle: new feeds are)
                    pipeline.store.feeds.due_now(url, 0.0)
                profiler = _profiler() if profile else None
                threads_started = thread_cpu()
                started, cpu_started = time.perf_counter(), cpu()
                if name == "monitor":
                    polls = await pipeline.polling.poll_due()
                else:
                    polls = await pipeline.poll_all(pipeline.enabled_feeds())
                seconds = time.perf_counter() - started
                if profiler:
                    profiler.stop()
                    Path(f"{profile}.{label.split()[0]}{label.partition('#')[2]}.txt").write_text(
                        profiler.output_text(unicode=True))
                workers = descendants_cpu()
                (loop, others), (loop_before, others_before) = thread_cpu(), threads_started
                result.cycles.append(Cycle(
                    label, seconds, cpu() - cpu_started + workers - workers_before, len(urls),
                    failed=sum(poll.status == "failed" for poll in polls),
                    where=(loop - loop_before, others - others_before, workers - workers_before)))
                workers_before = workers
            result.worker_rss_mb = max(map(_process_peak_mb, pipeline.context.workers.pids()))
            result.all_pss_mb = memory_of_all_mb()
        return result

    result = asyncio.run(cycles())
    result.peak_rss_mb = peak_rss_mb()
    return result


def _profiler():  # noqa: ANN202 (pyinstrument is only needed for --profile)
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    return profiler


def run_reader(urls: list[str], directory: str) -> Result:
    from reader import make_reader

    result = Result("reader (workers=16)", [], 0.0)
    with make_reader(str(Path(directory) / "reader.sqlite")) as reader:
        for url in urls:
            reader.add_feed(url)
        for label in cycle_labels():
            scheduled = label == "full cycle"
            set_version(urls, label)
            started, cpu_started = time.perf_counter(), cpu()
            failed = sum(1 for update in reader.update_feeds_iter(workers=16, scheduled=scheduled)
                         if isinstance(update.error, Exception))
            result.cycles.append(Cycle(label, time.perf_counter() - started, cpu() - cpu_started,
                                       len(urls), failed=failed))
        result.all_pss_mb = memory_of_all_mb()
    result.peak_rss_mb = peak_rss_mb()
    return result


def run_homegrown(urls: list[str], sample: int) -> Result:
    import feedparser

    few = urls[:sample]
    etags: dict[str, str] = {}
    result = Result("home-grown loop", [], 0.0)
    for label in cycle_labels():
        set_version(urls, label)
        started, cpu_started, failed = time.perf_counter(), cpu(), 0
        for url in few:
            parsed = feedparser.parse(url, etag=etags.get(url))
            failed += parsed.get("status") not in (200, 304)
            if parsed.get("etag"):
                etags[url] = parsed["etag"]
        result.cycles.append(Cycle(label, time.perf_counter() - started, cpu() - cpu_started,
                                   len(few), scale=len(urls) / len(few), failed=failed))
    result.all_pss_mb = memory_of_all_mb()
    result.peak_rss_mb = peak_rss_mb()
    return result


def _contender(name: str, urls: list[str], sample: int, profile: str | None,
               results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as directory:
        if name.startswith("monitor"):
            result = run_monitor(name, urls, directory, profile)
        elif name == "reader":
            result = run_reader(urls, directory)
        else:
            result = run_homegrown(urls, sample)
    results.put(result)


def contend(name: str, urls: list[str], sample: int, profile: str | None) -> Result:
    """Run one contender in a fresh process: its CPU and memory are its own."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_contender, args=(name, urls, sample, profile, results))
    process.start()
    result = results.get()
    process.join()
    return result


CONTENDERS = ("monitor", "monitor once", "reader", "home-grown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--homegrown-feeds", type=int, default=100)
    parser.add_argument("--only", choices=CONTENDERS, action="append",
                        help="run only these contenders (repeatable)")
    parser.add_argument("--hosts", type=int, default=HOSTS, help="loopback hosts the feeds share")
    parser.add_argument("--network", default=NETWORK_DEFAULT,
                        help=f"monitor's network settings (default: {NETWORK_DEFAULT!r}; "
                             "'concurrency: 64, per_host: 2' are the shipped defaults)")
    parser.add_argument("--profile", metavar="FILE",
                        help="write pyinstrument profiles of monitor's main process, one per cycle, "
                             "to FILE.full.txt and FILE.304.txt")
    parser.add_argument("--repeat-304", type=int, default=0, metavar="N",
                        help="poll N more 304 cycles after the first (steadier figures)")
    args = parser.parse_args()
    try:
        import reader  # noqa: F401
        contenders = list(CONTENDERS)
    except ImportError:
        print("(reader is not installed: pip install reader sgmllib3k to compare with it)")
        contenders = [name for name in CONTENDERS if name != "reader"]
    contenders = [name for name in contenders if not args.only or name in args.only]

    os.environ[NETWORK] = args.network  # read by monitor's contender process
    os.environ[REPEAT] = str(args.repeat_304)  # read by every contender's process
    farm, urls = start_farm(args.feeds, args.hosts)
    try:
        results = [contend(name, urls, min(args.homegrown_feeds, args.feeds), args.profile)
                   for name in contenders]
    finally:
        farm.kill()
    report(results, args.feeds, args.homegrown_feeds, args.hosts)


def report(results: list[Result], feeds: int, sample: int, hosts: int = HOSTS) -> None:
    baselines = {result.contender: result for result in results}
    network = os.environ.get(NETWORK, NETWORK_DEFAULT)
    print(f"feed farm: {feeds:,} feeds of 30 items, 50 ms latency, {hosts} loopback hosts, "
          f"monitor's network: {network}; home-grown measured on {min(sample, feeds)} feeds "
          "and scaled")
    header = f"  {'':<36}{'seconds':>9}{'feeds/s':>9}{'CPU/feed':>11}{'failed':>8}"
    print(header + "  vs home-grown  vs reader")
    for result in results:
        for index, cycle in enumerate(result.cycles):
            ratios = []
            for name in ("home-grown loop", "reader (workers=16)"):
                base = baselines.get(name)
                ratios.append(f"×{base.cycles[index].total_seconds / cycle.total_seconds:.1f}"
                              if base else "")
            print(f"  {result.contender + ', ' + cycle.label:<36}{cycle.total_seconds:9.1f}"
                  f"{feeds / cycle.total_seconds:9.0f}{cycle.cpu_ms_per_feed:8.2f} ms"
                  f"{cycle.failed:8d}  {ratios[0]:>13}  {ratios[1]:>9}")
            if cycle.where:
                loop, others, workers = (seconds / cycle.feeds * 1000 for seconds in cycle.where)
                print(f"    CPU per feed: event loop {loop:.2f} ms, other threads (the database's)"
                      f" {others:.2f} ms, workers {workers:.2f} ms")
        workers = f" + parser processes {result.worker_rss_mb:.0f} MB each" \
            if result.worker_rss_mb else ""
        print(f"  {result.contender}: peak RSS {result.peak_rss_mb:.0f} MB{workers}; "
              f"all its processes now {result.all_pss_mb:.0f} MB (PSS)")


if __name__ == "__main__":
    main()
