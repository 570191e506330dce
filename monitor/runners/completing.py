"""The complete runner: each new item's page fetched and its article extracted, the rules
matched, the facts about its candidate stories gathered, and `decide_item`'s story and alerts
committed with it. Up to BATCH items are in progress at once; those ready at the same moment
are committed together, in one transaction, as soon as they are: one slow site delays its own
articles only, and a commit's cost is shared by the items ready with it."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from monitor.config.config import Config
from monitor.core import analysis, entities, evergreen, spread
from monitor.core.deciders import (
    ItemPolicy,
    StoryFacts,
    candidate_stories,
    decide_item,
    decide_refresh,
)
from monitor.core.dedup import Fingerprint, evidence
from monitor.core.errors import FetchError, LeaseLost, LockBusy
from monitor.core.models import Article, Match, PendingItem, StoryAssignment
from monitor.core.rules import CompiledRule
from monitor.runners.context import Context
from monitor.runners.workers import Batched, WorkerFailed

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
PAGE_RETRIES = 3  # more fetches of a page that failed for a while, PAGE_RETRY_AFTER apart, doubling
PAGE_RETRY_AFTER = 900.0
ITEM_RETRY_AFTER = 60.0  # an item whose completion raised waits this long, doubling up to 6 h
ITEM_RETRY_MAX = 6 * 3600.0
BATCH = 32  # items in progress at once
FOLLOWS_A_STORY = (evergreen.LIVE, evergreen.BULLETIN)  # alert as follow-ups of a story


def watches(config: Config, rules: Sequence[CompiledRule]) -> tuple[spread.Watch, ...]:
    """Who wants to know when a story spreads: each rule with `spread:`, and
    `notify.trending`."""
    found = [spread.Watch(rule.name, rule.spread, rule.channels, rule.priority)
             for rule in rules if rule.spread is not None]
    trending = config.notify.trending
    if trending is not None:
        found.append(spread.Watch(spread.TRENDING, spread.Spread(trending.outlets, trending.within),
                                  tuple(trending.channels or config.notify.default),
                                  trending.priority))
    return tuple(found)


class Ready(NamedTuple):
    """An item analysed and matched, to be decided and committed."""

    item: PendingItem
    article: Article
    fingerprint: Fingerprint
    matches: list[Match]
    page_failed: bool  # worth fetching again later


class Completed(NamedTuple):
    processed: int  # items completed
    queued: int  # alerts queued
    old: int  # items completed that were listed by a feed's first poll as old news: no alert


class CompleteRunner:
    def __init__(self, context: Context) -> None:
        self.context = context
        self._tags: dict[str, tuple[str, ...]] = {}
        self._news = 0  # bumped when polls store new items: a pass that ran dry looks again
        self._summaries = Batched(context.workers, analysis.analyse_summaries)
        self._policy_made: tuple[object, object, ItemPolicy | None] = (None, None, None)
        self.reconfigure(context.config)

    def reconfigure(self, config: Config) -> None:
        """Take up a new config's feed tags."""
        self._tags = {feed.url: tuple(feed.tags) for feed in config.feeds}

    def new_items_stored(self) -> None:
        """New items are there to complete: the pass under way takes them up."""
        self._news += 1

    def _policy(self) -> ItemPolicy:
        """The config's and the rules' (made again only when a reload replaced either: asked
        for each item)."""
        config, rules = self.context.config, self.context.rules
        made_for, made_with, policy = self._policy_made
        if made_for is not config or made_with is not rules or policy is None:
            policy = ItemPolicy(config.notify.priority, config.dedup.followups,
                                config.notify.zone, watches(config, rules.rules))
            self._policy_made = config, rules, policy
        return policy

    async def process_pending(self) -> Completed:
        """Complete every new item."""
        ctx = self.context
        try:
            await ctx.store.call(self._file_window)
        except LockBusy as error:
            log.warning("items not completed now: %s; tried again at the next tick", error)
            ctx.troubles.note("stories-lock", str(error))
            return Completed(0, 0, 0)
        ctx.troubles.clear("stories-lock")
        processed = queued = old = 0
        in_flight: dict[asyncio.Task[Ready], PendingItem] = {}
        ready: list[Ready] = []  # analysed and matched, for the next commit
        committing: asyncio.Task[list[tuple[PendingItem, int | Exception]]] | None = None
        committed: list[int] = []  # the items it commits
        last_started = 0  # an item that fails stays new, for the next pass, not this one
        exhausted, news_seen = False, self._news
        try:
            while True:
                more = not exhausted or news_seen != self._news
                if more and not ctx.stopping and len(in_flight) <= BATCH // 2:
                    news_seen = self._news
                    fresh = await ctx.store.call(functools.partial(
                        ctx.store.items.pending, BATCH - len(in_flight), after=last_started,
                        now=ctx.clock(), lease=ctx.config.lease))
                    exhausted = not fresh
                    for item in fresh:
                        last_started = item.id
                        in_flight[asyncio.create_task(self._prepare(item))] = item
                if committing is None and ready:  # one commit at a time; the next batch
                    committing = asyncio.create_task(self._commit(ready))  # gathers meanwhile
                    committed, ready = [done.item.id for done in ready], []
                if not in_flight and committing is None:
                    if news_seen != self._news and not ctx.stopping:
                        continue  # stored while this pass ran dry
                    return Completed(processed, queued, old)
                waiting: set[asyncio.Future[Any]] = {*in_flight, *([committing] if committing else [])}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if committing in done:
                    for item, outcome in committing.result():
                        if isinstance(outcome, int):
                            queued += outcome
                            processed += 1
                            old += item.old
                        else:
                            await self._failed(item, outcome)
                        ctx.store.leases.settle("items", [item.id])
                    committing = None
                for task in done & in_flight.keys():
                    item = in_flight.pop(task)  # type: ignore[call-overload]
                    try:
                        ready.append(task.result())
                    except Exception as error:  # a bug on one item stops no other; it stays new
                        await self._failed(item, error)
                        ctx.store.leases.settle("items", [item.id])
        finally:  # the database failed under the loop: what is in flight is not ours for good
            for task in in_flight:
                task.cancel()
            if committing is not None:  # its items' leases are read while it writes them
                await asyncio.wait([committing])
                ctx.store.leases.settle("items", committed)
            ctx.store.leases.settle("items", [item.id for item in in_flight.values()]
                                    + [done.item.id for done in ready])

    def _file_window(self) -> None:
        """The window's articles filed in the database's story index, when an upgrade or a
        migration left it to do (on a database thread). Each pass takes the stories lock
        here first: an instance paused holding it is seen (and said) even with no item."""
        ctx = self.context
        with ctx.store.transaction(lock="stories"):
            filed = ctx.store.stories.rebuild_if_needed(ctx.clock() - 2 * ctx.config.dedup.window)
        if filed:
            log.info("story index: %d recent article(s) filed", filed)

    async def _failed(self, item: PendingItem, cause: Exception) -> None:
        """Completing it raised (called while that is handled): it is tried again later
        (after its lease, when even that cannot be written)."""
        ctx = self.context
        if isinstance(cause, LeaseLost):
            log.warning("item %d: this completion is discarded: another instance completed it "
                        "meanwhile (this process was paused past its lease)", item.id,
                        extra={"item": item.id})
            ctx.troubles.note("lease-lost", f"item {item.id}")
            return
        try:
            tries = await ctx.store.call(ctx.store.items.failed, item.id, ctx.clock(),
                                         ITEM_RETRY_AFTER, ITEM_RETRY_MAX)
        except Exception as error:
            log.exception("item %d: not completed, and its failure could not be recorded "
                          "(%s); tried again in %gs", item.id, error, ctx.config.lease,
                          extra={"item": item.id})
            ctx.troubles.note("write-failed", f"item {item.id}'s failure: {error}")
            return
        if isinstance(cause, LockBusy):  # another instance paused holding it
            log.warning("item %d: not completed now (%s); tried again later", item.id, cause,
                        extra={"item": item.id})
            ctx.troubles.note("stories-lock", str(cause))
            return
        log.exception("item %d: not completed (%d failed attempt(s)); tried again later",
                      item.id, tries, extra={"item": item.id})

    def _facts(self, item: PendingItem, article: Article, fingerprint: Fingerprint,
               policy: ItemPolicy) -> StoryFacts:
        """What decide_item needs: the story of the page's canonical URL, else the index's,
        and the headlines and outlets of each candidate story."""
        ctx = self.context
        index, now, window = ctx.store.stories, ctx.clock(), ctx.config.dedup.window
        same_url = (ctx.store.items.story_of_url(article.canonical_url, other_than=item.id)
                    if article.canonical_url else None)
        facts = StoryFacts(
            same_url, index.assign(fingerprint, now, window) if same_url is None else None,
            index.related(fingerprint, now, window)
            if fingerprint.kind in FOLLOWS_A_STORY else None)
        if item.old:
            return facts
        stories = candidate_stories(facts)
        if not stories:
            return facts
        items = ctx.store.items
        members = ({story: items.story_members(story) for story in stories}
                   if policy.watches else None)  # (their outlets, too: no second query)
        return StoryFacts(facts.same_url, facts.indexed, facts.related,
                          {story: items.story_channels(story) for story in stories},
                          {story: frozenset(m.outlet for m in members[story])
                           if members is not None else frozenset(items.story_outlets(story))
                           for story in stories},
                          items.muted_stories(stories), members)

    async def _commit(self, ready: list[Ready]) -> list[tuple[PendingItem, int | Exception]]:
        """Decide and commit the items ready at once in one transaction (a commit and a thread
        hop per batch, not per item). When that fails, each is committed on its own, so one
        item's failure costs no other. Returns each item's alerts queued, or its error."""
        if not ready:
            return []
        ctx = self.context
        try:
            decided = await ctx.store.call(self._decide_all, ready)
        except LockBusy as error:  # another instance holds the stories: the same for each
            return [(done.item, error) for done in ready]
        except Exception as error:
            if len(ready) == 1:
                return [(ready[0].item, error)]
            outcomes: list[tuple[PendingItem, int | Exception]] = []
            for done in ready:
                outcomes.extend(await self._commit([done]))
            return outcomes
        for done, (story_id, count, assignment) in zip(ready, decided, strict=True):
            self._count(done, story_id, count, assignment)
        return [(done.item, count) for done, (_, count, _) in zip(ready, decided, strict=True)]

    def _count(self, done: Ready, story_id: int, count: int, assignment: StoryAssignment) -> None:
        ctx, article = self.context, done.article
        ctx.metrics.articles.labels(article.source).inc()
        ctx.metrics.pipeline_seconds.observe(max(0.0, ctx.clock() - done.item.seen_at))
        for match in done.matches:
            ctx.metrics.matches.labels(match.rule).inc()
        if done.matches:
            rules = ",".join(m.rule for m in done.matches)
            log.info("item %d %r: rules %s, story %d (%s), %d alert(s) queued", done.item.id,
                     article.title[:80], rules, story_id, assignment.reason, count,
                     extra={"item": done.item.id, "rule": rules})

    def _decide_all(self, ready: list[Ready]) -> list[tuple[int, int, StoryAssignment]]:
        """Decided and written under one lock, cluster-wide (on a database thread): two
        outlets' copies completed at once by two instances must not each start a story.
        Returns each item's (story, alerts queued, assignment)."""
        with self.context.store.transaction(lock="stories"):
            return [self._decide(done) for done in ready]

    def _decide(self, done: Ready) -> tuple[int, int, StoryAssignment]:
        """One item, inside _decide_all's transaction: the next items of the batch see it
        filed, and may belong to its story."""
        ctx, item, article, fingerprint = self.context, done.item, done.article, done.fingerprint
        policy = self._policy()
        decision = decide_item(article, fingerprint, done.matches, old=item.old,
                               facts=self._facts(item, article, fingerprint, policy),
                               now=ctx.clock(), policy=policy)
        assignment = decision.assignment
        story_id, count = ctx.store.items.complete(
            item.id, now=ctx.clock(), article=article, fingerprint=fingerprint,
            assignment=assignment, matched=[m.rule for m in done.matches],
            alerts=decision.alerts, max_age=ctx.config.notify.max_age,
            page_retry_at=ctx.clock() + PAGE_RETRY_AFTER if done.page_failed else None,
            evidence=evidence(assignment, article, fingerprint))
        return story_id, count, assignment

    async def _match(self, item: PendingItem, article: Article) -> list[Match]:
        """The rules the article matches; entities are recognised (in a worker) only when an
        entity rule's name occurs in it."""
        rules = self.context.rules  # one rule set for the whole item, even across a reload
        scan = rules.scan(article)
        for name, length in scan.cut.items():
            log.warning("item %d: its %s was matched on its first %d characters of %d",
                        item.id, name, len(scan.texts[name]), length, extra={"item": item.id})
        needed = rules.entity_fields(scan)
        labels = None
        if needed:
            try:
                labels = await (self.context.entities or self.context.workers).run(
                    entities.recognise, {name: scan.texts[name] for name in needed})
            except WorkerFailed as error:
                log.warning("item %d: entity recognition failed (%s); entity terms count as "
                            "absent", item.id, error)
        return rules.evaluate(scan, labels)

    async def _prepare(self, item: PendingItem) -> Ready:
        """Analysed and matched, in a task of its own: an item waiting on the entity model
        (loaded on first need, seconds) holds up no other."""
        article, fingerprint, page_failed = await self._analyse(item)
        return Ready(item, article, fingerprint, await self._match(item, article), page_failed)

    async def _analyse(self, item: PendingItem) -> tuple[Article, Fingerprint, bool]:
        """The article, its fingerprint, and whether its page failed in a way worth another
        try later (a timeout, a 5xx, the network)."""
        html, transient = None, False
        if item.entry.link:
            try:
                page = await self.context.http.get(
                    item.entry.link, accept=PAGE_ACCEPT,
                    max_size=self.context.config.network.max_page_size)
                html = page.body
            except FetchError as error:
                log.info("item %d: page unavailable (%s); using the feed's summary",
                         item.id, error)
                transient = error.transient
        article, fingerprint = await self._extract(item, html)
        return article, fingerprint, transient

    async def _extract(self, item: PendingItem, html: bytes | None) -> tuple[Article, Fingerprint]:
        tags = self._tags.get(item.entry.feed_url, ())
        try:
            if html is None:  # small work: many such items to a worker at once
                return await self._summaries((item.entry, item.outlet, tags, item.seen_at))
            return await self.context.workers.run(analysis.analyse, item.entry, html,
                                                  item.outlet, tags, item.seen_at)
        except WorkerFailed as error:
            log.warning("item %d: extraction failed (%s); using the feed's summary", item.id, error)
            return analysis.analyse(item.entry, None, item.outlet, tags, item.seen_at)

    async def retry_pages(self) -> int:
        """Pages that failed for a while (PAGE_RETRIES more tries, PAGE_RETRY_AFTER apart and
        doubling) are fetched again: the full text replaces the summary, and a rule that matches
        it but did not match the summary alerts. Returns alerts queued."""
        ctx = self.context
        items, queued = ctx.store.items, 0
        for due in await ctx.store.call(items.pages_to_retry, ctx.clock()):
            item = due.item
            try:
                page = await ctx.http.get(item.entry.link or "", accept=PAGE_ACCEPT,
                                          max_size=ctx.config.network.max_page_size)
            except FetchError as error:
                again = error.transient and due.tries + 1 < PAGE_RETRIES
                await ctx.store.call(items.page_failed, item.id, ctx.clock() + PAGE_RETRY_AFTER
                                     * 2 ** (due.tries + 1) if again else None)
                log.info("item %d: page still unavailable (%s)%s", item.id, error,
                         "" if again else "; keeping the summary")
                continue
            article, fingerprint = await self._extract(item, page.body)
            if article.source != "page":
                log.info("item %d: its page holds no article; keeping the summary", item.id)
                await ctx.store.call(items.page_failed, item.id, None)
                continue
            matches = await self._match(item, article)
            new = [match for match in matches if match.rule not in due.matched]
            alerted = await ctx.store.call(items.story_channels, due.story_id) if new else {}
            muted = bool(new) and bool(await ctx.store.call(items.muted_stories, [due.story_id]))
            planned = decide_refresh(article, new, old=item.old, policy=self._policy(),
                                     alerted=alerted, muted=muted)
            queued += await ctx.store.call(functools.partial(
                items.refresh_article, item.id, story_id=due.story_id, now=ctx.clock(),
                article=article, fingerprint=fingerprint,
                matched=[match.rule for match in matches], alerts=planned,
                max_age=ctx.config.notify.max_age))
            log.info("item %d: page fetched at last; rules %s", item.id,
                     ",".join(match.rule for match in matches) or "none",
                     extra={"item": item.id})
        return queued
