"""`monitor rules test` and `monitor rules backtest`: try rules before trusting them with alerts.

Both only read: `test` runs rules over one text, file or URL; `backtest` runs them over the articles
already stored and says what would have alerted. Neither sends anything.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from monitor.config.config import CONSOLE, Config, NetworkConfig
from monitor.core import entities, rulefiles
from monitor.core.errors import FetchError
from monitor.core.extract import article_from_html
from monitor.core.matching import EntitySpans
from monitor.core.models import Article, Match
from monitor.core.rules import RuleSet
from monitor.core.text import snippet
from monitor.net.http import HttpClient
from monitor.runners import app
from monitor.runners import backtest as backtest_module
from monitor.store.store import Store

EXIT_MATCH, EXIT_NO_MATCH, EXIT_INVALID = 0, 1, 2


def load_rules(files: list[Path], config: Config | None) -> RuleSet:
    """The rule files named (else the config's), checked against the config's channels if any."""
    if config is None:
        return rulefiles.load(files or [Path("rules")], None, [CONSOLE])
    return app.load_rules(config, files)


def recogniser(rules: RuleSet) -> Callable[[dict[str, str]], EntitySpans] | None:
    return entities.recognise if rules.uses_entities else None


# -- rules test ----------------------------------------------------------------------------------

def test(args: argparse.Namespace, config: Config | None, out: TextIO = sys.stdout) -> int:
    rules = load_rules(args.rule_files, config)
    try:
        article = _input_article(args, config)
    except (OSError, FetchError) as error:
        print(f"monitor: cannot read the input: {error}", file=sys.stderr)
        return EXIT_INVALID
    matches = rules.match(article, recogniser(rules))
    mark = "\033[1m", "\033[0m"
    if not out.isatty():
        mark = "**", "**"
    origins = {rule.name: shown(rule.origin) for rule in rules.rules}
    for match in matches:
        print(f"MATCH {match.rule}  ({origins[match.rule]})", file=out)
        for line in explain(article, match, mark):
            print(f"  {line}", file=out)
    print(f"{len(matches)} of {len(rules)} rule(s) match", file=out)
    return EXIT_MATCH if matches else EXIT_NO_MATCH


def explain(article: Article, match: Match, mark: tuple[str, str] = ("**", "**")) -> list[str]:
    """One line per hit: term, field, offsets and the passage around it with the term marked."""
    texts = {"title": article.title, "summary": article.summary, "text": article.text}
    lines = []
    for hit in match.hits:
        passage = snippet(texts[hit.field], [(hit.start, hit.end)], 100, mark="\0")
        passage = passage.replace("\0", mark[0], 1).replace("\0", mark[1], 1)
        lines.append(f"{hit.term!r} in {hit.field} [{hit.start}:{hit.end}]: {passage}")
    return lines


def _input_article(args: argparse.Namespace, config: Config | None) -> Article:
    if args.text is not None:
        return Article(None, "", "", args.text, None, "(text)", "page")
    if args.file is not None:
        data = Path(args.file).read_bytes()
        if data.lstrip()[:1] == b"<":
            return article_from_html(data, args.file)
        return Article(None, "", "", data.decode("utf-8", "replace"), None, args.file, "page")
    html = asyncio.run(_fetch(args.url, config.network if config else NetworkConfig()))
    return article_from_html(html, args.url)


def shown(origin: str) -> str:
    """A rule's file:line as the user would write it: relative to the working directory when
    the file is under it (the config makes rule paths absolute)."""
    path, _, line = origin.rpartition(":")
    try:
        return f"{Path(path).relative_to(Path.cwd())}:{line}"
    except ValueError:
        return origin


async def _fetch(url: str, network: NetworkConfig) -> bytes:
    client = HttpClient(app.http_limits(network))
    try:
        return (await client.get(url, max_size=network.max_page_size)).body
    finally:
        await client.close()


# -- rules backtest -----------------------------------------------------------------------------

def backtest(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    rules = load_rules(args.rule_files, config)
    store = Store(config.database)
    try:
        progress = _Progress()
        found = backtest_module.run(store, rules, time.time() - args.since,
                                    {feed.url: tuple(feed.tags) for feed in config.feeds},
                                    progress.update)
        progress.close()
    finally:
        store.close()
    zone = config.notify.zone
    print(f"{found.total} stored article(s) since {args.since} ago; {len(rules)} rule(s); "
          f"nothing is sent; times in {config.notify.timezone}", file=out)
    for rule in rules.rules:
        print(f"\n{rule.name}: {len(found.stories[rule.name])} alert(s) (stories), "
              f"{found.articles[rule.name]} matching article(s)", file=out)
        latest = heapq.nlargest(args.top, (a for a, _ in found.examples[rule.name]),
                                key=lambda article: (article.published.timestamp()
                                                     if article.published else float("-inf")))
        for article in latest:
            when = f"{article.published.astimezone(zone):%Y-%m-%d %H:%M %Z}" \
                if article.published else "(undated)"
            print(f"  {when}  {article.outlet}: {article.title}", file=out)
            if article.url:
                print(f"      {article.url}", file=out)
    return EXIT_MATCH if found.articles else EXIT_NO_MATCH


class _Progress:
    """A one-line progress count on stderr, only when someone is watching (a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.active = stream.isatty()
        self._last = 0.0

    def update(self, done: int, total: int) -> None:
        self.total = total
        self.active = self.active and total >= 200
        now = time.monotonic()
        if self.active and (now - self._last > 0.2 or done == self.total):
            self._last = now
            width = 30
            filled = width * done // max(1, self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        if self.active:
            self.stream.write("\n")

