"""`monitor feeds add | remove | import | export`: the feed list, edited from the command line.

Every fetch goes through the daemon's own guarded client (deadline, size cap, no private
addresses unless allowed), and every edit through `config_edit`, which keeps the user's file as
written and refuses to leave it invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from monitor.cli.alerts import times_in, when, wrapped
from monitor.config import edit as config_edit
from monitor.config.config import Config, NetworkConfig
from monitor.core import feeds, opml
from monitor.core.errors import FetchError, InvalidInput
from monitor.core.models import feed_status
from monitor.net import discovery
from monitor.net.http import HttpClient
from monitor.runners import app
from monitor.runners.polling import FEED_ACCEPT
from monitor.store.store import Store

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


@dataclass(frozen=True)
class FoundFeed:
    url: str
    title: str
    entries: int


def add(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    try:
        found = asyncio.run(find_feed(args.url, config.network))
    except FetchError as error:
        print(f"monitor: {args.url}: {error}", file=sys.stderr)
        return EXIT_FAILED
    if found is None:
        print(f"monitor: no feed found at {args.url}, nor linked from it, nor at the usual "
              "addresses of its site", file=sys.stderr)
        return EXIT_FAILED
    name = args.name or found.title or found.url
    clash = next((feed for feed in config.feeds if found.url == feed.url or name == feed.name),
                 None)
    if clash is not None:
        print(f"monitor: already in {config.path}: '{clash.name}' ({clash.url})", file=sys.stderr)
        return EXIT_FAILED
    entry: dict[str, Any] = {"name": name, "url": found.url}
    if args.tags:
        entry["tags"] = [tag.strip() for tag in args.tags.split(",") if tag.strip()]
    config_edit.add_feeds(config.path, [entry])
    print(f"added '{name}': {found.url} ({found.entries} item(s) listed now)", file=out)
    print(_taken_up(config), file=out)
    return EXIT_OK


def remove(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    if not config_edit.remove_feed(config.path, args.feed):
        print(f"monitor: no feed named '{args.feed}' (nor with that URL) in {config.path}",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"removed '{args.feed}' (its items and stories stay in the database)", file=out)
    print(_taken_up(config), file=out)
    return EXIT_OK


def poll(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    """`feeds poll NAME`: the feed is due now; a running daemon (any instance) polls it at its
    next tick. Nothing is fetched here: the daemon keeps its politeness and its leases."""
    feed = next((feed for feed in config.feeds if args.feed in (feed.name, feed.url)), None)
    if feed is None:
        print(f"monitor: no feed named '{args.feed}' (nor with that URL) in {config.path}",
              file=sys.stderr)
        return EXIT_INVALID
    store = Store(config.database)
    try:
        store.feeds.due_now(feed.url, time.time())  # (a feed the daemon never saw: due at once)
    finally:
        store.close()
    print(f"'{feed.name}' is due now: a running daemon polls it within "
          f"{config.poll.tick:g} s (`monitor once` polls every feed at once)", file=out)
    return EXIT_OK


def import_opml(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    path = Path(args.file)
    try:
        listed = opml.parse(path.read_bytes())
    except OSError as error:
        print(f"monitor: {path}: {error.strerror or error}", file=sys.stderr)
        return EXIT_INVALID
    except opml.OpmlError as error:
        print(f"monitor: {path}: {error}", file=sys.stderr)
        return EXIT_INVALID
    urls = {feed.url for feed in config.feeds}
    names = {feed.name for feed in config.feeds}
    untitled = [feed.url for feed in listed if not feed.name and feed.url not in urls]
    titles = asyncio.run(_titles(untitled, config.network)) if untitled else {}
    new, skipped = [], []
    for feed in listed:
        if feed.url in urls:
            skipped.append(feed)
            continue
        name = _unique(feed.name or titles.get(feed.url) or feed.url, names)
        names.add(name)
        urls.add(feed.url)
        entry: dict[str, Any] = {"name": name, "url": feed.url}
        if feed.tags:
            entry["tags"] = feed.tags
        new.append(entry)
    if new:
        try:
            config_edit.add_feeds(config.path, new)
        except InvalidInput as error:
            for problem in error.problems:
                print(f"monitor: not imported: {problem}", file=sys.stderr)
            return EXIT_INVALID
    print(f"imported {len(new)} feed(s) from {path}", file=out)
    for feed in skipped:
        print(f"  skipped, already configured: {feed.name} ({feed.url})", file=out)
    if new:
        print(_taken_up(config), file=out)
    return EXIT_OK


async def _titles(urls: list[str], network: NetworkConfig) -> dict[str, str]:
    """The feeds' own titles, for outlines that have none (as `feeds add` names a feed); a feed
    that cannot be read keeps its URL as its name."""
    client = HttpClient(app.http_limits(network))
    try:
        async def title(url: str) -> str:
            try:
                response = await client.get(url, max_size=network.max_feed_size,
                                            accept=FEED_ACCEPT)
            except FetchError:
                return ""
            found = _as_feed(response.url, response.body)
            return found.title if found else ""

        found = await asyncio.gather(*(title(url) for url in urls))
    finally:
        await client.close()
    return {url: name for url, name in zip(urls, found, strict=True) if name}


def export_opml(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    out.write(opml.render([opml.OutlineFeed(feed.name, feed.url, list(feed.tags))
                           for feed in config.feeds]))
    return EXIT_OK


async def find_feed(url: str, network: NetworkConfig) -> FoundFeed | None:
    """The feed at `url`; else the first feed the page links; else one at a usual address."""
    client = HttpClient(app.http_limits(network))
    try:
        response = await client.get(url, max_size=network.max_feed_size, accept=FEED_ACCEPT)
        found = _as_feed(response.url, response.body)
        if found:
            return found
        for candidate in [*discovery.linked_feeds(response.body, response.url),
                          *discovery.common_feeds(response.url)]:
            try:
                answer = await client.get(candidate, max_size=network.max_feed_size,
                                          accept=FEED_ACCEPT)
            except FetchError:
                continue
            found = _as_feed(answer.url, answer.body)
            if found:
                return found
        return None
    finally:
        await client.close()


def _as_feed(url: str, body: bytes) -> FoundFeed | None:
    parsed = feeds.parse(body, url)
    if parsed.error:
        return None
    return FoundFeed(url, parsed.title, len(parsed.entries))


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} ({number})", number + 1
    return candidate


def _taken_up(config: Config) -> str:
    if config.watch_rules:
        return ("a running daemon takes the change up within seconds (it watches "
                f"{config.path.name}); `systemctl reload monitor` (SIGHUP) does it at once")
    return "a running daemon takes the change up on `systemctl reload monitor` (SIGHUP)"


# -- monitor feeds (the table) --------------------------------------------------------------------

def table(config: Config, out: TextIO = sys.stdout) -> int:
    """`monitor feeds`: the state of every configured feed, worst first."""
    store = Store(config.database)
    now = time.time()
    try:
        states = {state.url: state for state in store.feeds.all()}
        counts = store.feeds.items_per_feed(now - 24 * 3600)
    finally:
        store.close()
    zone = config.notify.zone
    rows = []
    for feed in config.feeds:
        state = states.get(feed.url)
        if state is None:
            rows.append((0, feed.name, "never polled", "-", 0, "", 0, "now"))
            continue
        next_poll = "now" if state.next_check <= now else when(state.next_check, zone)
        status = feed_status(feed.enabled, state)
        problem = state.last_error if state.failures else state.warning
        rows.append((state.failures, feed.name, status, when(state.last_success, zone),
                     state.failures, problem or "", counts.get(feed.url, 0), next_poll))
    rows.sort(key=lambda row: -row[0])
    print(f"{'FEED':<32} {'STATUS':<12} {'LAST SUCCESS':<19}  {'FAILS':>5}  {'ITEMS 24H':>9}  "
          f"{'NEXT POLL':<19}", file=out)
    for _, name, status, success, failures, problem, items, next_poll in rows:
        print(f"{name[:32]:<32} {status:<12} {success:<19}  {failures:>5}  {items:>9}  "
              f"{next_poll:<19}", file=out)
        if problem:  # whole, on lines of its own: its explanation comes last
            print(wrapped(f"problem: {problem}", 4), file=out)
    print(times_in(config), file=out)
    return EXIT_OK
