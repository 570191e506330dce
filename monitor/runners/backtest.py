"""Rules over the articles already stored: what they would have matched, and which stories would
have alerted. Reads only; shared by `monitor rules backtest` and the console's tester."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from monitor.core import entities
from monitor.core.models import Article
from monitor.core.rules import RuleSet
from monitor.store.store import Store


@dataclass
class Backtest:
    total: int = 0  # articles looked at
    articles: Counter[str] = field(default_factory=Counter)  # rule → matching articles
    stories: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    examples: dict[str, list[tuple[Article, int]]] = field(
        default_factory=lambda: defaultdict(list))  # rule → (article, its story)


def run(store: Store, rules: RuleSet, since: float, tags: Mapping[str, tuple[str, ...]],
        progress: Callable[[int, int], None] | None = None) -> Backtest:
    """Match every article completed since `since` (feeds' tags as the daemon gives them);
    `progress(done, total)` is called as it goes."""
    result = Backtest(total=store.items.count_completed(since))
    recognise = entities.recognise if rules.uses_entities else None
    for done, (article, story_id) in enumerate(store.items.completed_articles(since), 1):
        feed_tags = tags.get(article.feed_url or "", ())
        if feed_tags:
            article = replace(article, tags=feed_tags)
        for match in rules.match(article, recognise):
            result.articles[match.rule] += 1
            result.stories[match.rule].add(story_id)
            result.examples[match.rule].append((article, story_id))
        if progress is not None:
            progress(done, result.total)
    return result
