"""One road, stage by stage: poll a feed, store its new items, complete each item (page, text,
rules, story, alerts), deliver the outbox. Each stage commits before the next begins, so a crash
anywhere resumes where it stopped: new items wait in the store, alerts wait in the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from monitor import (
    alerts,
    analysis,
    backfill,
    entities,
    evergreen,
    feeds,
    schedule,
    staleness,
)
from monitor.config import Config, FeedConfig
from monitor.dedup import Fingerprint
from monitor.dispatch import Dispatch
from monitor.errors import FetchError
from monitor.http import HttpClient
from monitor.metrics import Metrics
from monitor.models import Alert, Article, Entry, Match, StoryAssignment
from monitor.notify import Notifier
from monitor.rules import RuleSet
from monitor.store import PendingItem, Store
from monitor.storyindex import StoryIndex
from monitor.workers import WorkerFailed, Workers

log = logging.getLogger(__name__)

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
PAGE_RETRIES = 3  # more fetches of a page that failed for a while, PAGE_RETRY_AFTER apart, doubling
PAGE_RETRY_AFTER = 900.0
ITEM_RETRY_AFTER = 60.0  # an item whose completion raised waits this long, doubling up to 6 h
ITEM_RETRY_MAX = 6 * 3600.0
BATCH = 32  # items in progress at once: pages fetched concurrently, each committed when ready


@dataclass(frozen=True, slots=True)
class PollResult:
    feed: str
    url: str
    status: str  # "new", "malformed" (entries read in spite of errors), "not-modified",
    # "unchanged", "failed"
    new_items: int = 0
    error: str | None = None  # why it failed, or what was wrong with a malformed one
    entries: int = 0  # entries read


class Completed(NamedTuple):
    processed: int  # items completed
    queued: int  # alerts queued
    old: int  # items completed that were listed by a feed's first poll as old news: no alert


@dataclass
class PassReport:
    polls: list[PollResult] = field(default_factory=list)
    processed: int = 0
    old: int = 0
    queued: int = 0
    sent: int = 0
    failed: int = 0
    held: list[tuple[str, int, float]] = field(default_factory=list)  # see Store.held


class Pipeline(Dispatch):
    def __init__(self, config: Config, rules: RuleSet, store: Store, http: HttpClient,
                 workers: Workers, notifier: Notifier,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self.config = config
        self.rules = rules  # swapped whole on reload; read once per item
        self.notifier = notifier
        self.store = store
        self.http = http
        self.workers = workers
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.stopping = False  # set on shutdown: finish the current step, start no new one
        self._sent_at: dict[str, list[float]] = {}  # channel → when messages went out
        self._stories: StoryIndex | None = None
        self.reconfigure(config, rules, notifier)

    def reconfigure(self, config: Config, rules: RuleSet, notifier: Notifier) -> None:
        """Take up a new config (at start, and when it is reloaded): feeds added are due at
        once, feeds removed are no longer polled (their items and stories stay)."""
        window_changed = config.dedup.window != self.config.dedup.window
        self.config, self.rules, self.notifier = config, rules, notifier
        self._tags = {feed.url: tuple(feed.tags) for feed in config.feeds}
        if window_changed:
            self._stories = None  # rebuilt from the store with the new window
        self.store.sync_feeds(((feed.url, feed.name) for feed in config.feeds), self.clock())

    # -- polling ---------------------------------------------------------------------------

    def enabled_feeds(self) -> list[FeedConfig]:
        return [feed for feed in self.config.feeds if feed.enabled]

    def due_feeds(self) -> list[FeedConfig]:
        feeds_by_url = {feed.url: feed for feed in self.enabled_feeds()}
        due = self.store.due_feeds(self.clock(), list(feeds_by_url))
        return [feeds_by_url[url] for url in due]

    async def poll_all(self, feeds_to_poll: Sequence[FeedConfig]) -> list[PollResult]:
        """Poll concurrently in `network.concurrency` lanes, each taking the next feed when its
        last one is stored. A fetched feed holds its body until a parser is free, so the lanes
        bound memory too: with one task per feed, fetching outran parsing and 10,000 feeds kept
        270 MB of bodies waiting. Feeds are taken host by host in turn, so one host's per-host
        limit does not keep the lanes from the others."""
        queue = iter(_interleave_hosts(list(enumerate(feeds_to_poll))))
        results: dict[int, PollResult] = {}

        async def lane() -> None:
            for index, feed in queue:
                if self.stopping:
                    return
                results[index] = await self.poll(feed)

        lanes = min(self.config.network.concurrency, len(feeds_to_poll))
        await asyncio.gather(*(lane() for _ in range(lanes)))
        return [results[index] for index in sorted(results)]  # in the order given

    async def poll(self, feed: FeedConfig) -> PollResult:
        """Fetch and parse one feed, store its new items. Never raises: failure is a result."""
        started = time.monotonic()
        try:
            result = await self._poll(feed)
        except Exception as error:  # a bug on one feed must not stop the others
            log.exception("feed %r: unexpected error", feed.name, extra={"feed": feed.name})
            result = self._failed(feed, f"internal error: {type(error).__name__}: {error}")
        self.metrics.poll(result.status, time.monotonic() - started)
        self.metrics.items_new.inc(result.new_items)
        return result

    async def _poll(self, feed: FeedConfig) -> PollResult:
        state = self.store.feed(feed.url)
        try:
            response = await self.http.get(
                state.fetch_url, max_size=self.config.network.max_feed_size, etag=state.etag,
                last_modified=state.last_modified, accept=FEED_ACCEPT)
        except FetchError as error:
            return self._failed(feed, str(error), error.retry_after)
        if response.permanent_url:
            log.warning("feed %r moved permanently to %s: polling it there from now on "
                        "(update its url in the config)", feed.name, response.permanent_url,
                        extra={"feed": feed.name})
        etag = response.etag or (state.etag if response.not_modified else None)
        modified = response.last_modified or (state.last_modified if response.not_modified else None)
        fresh_for = response.max_age
        if response.not_modified:
            self._succeeded(feed, etag, modified, state.body_hash, fresh_for=fresh_for,
                            moved_to=response.permanent_url, not_modified=True)
            return PollResult(feed.name, feed.url, "not-modified")
        body_hash = hashlib.sha256(response.body).hexdigest()
        if body_hash == state.body_hash:  # same bytes as last time: nothing to parse
            self._succeeded(feed, etag, modified, body_hash, fresh_for=fresh_for,
                            moved_to=response.permanent_url, not_modified=True)
            return PollResult(feed.name, feed.url, "unchanged")
        try:
            parsed = await self.workers.run(feeds.parse, response.body, response.url,
                                            _charset_headers(response.headers), feed.url)
        except WorkerFailed as error:
            return self._failed(feed, f"parser failed: {error}")
        if parsed.error:
            return self._failed(feed, parsed.error)
        self.store.feed_warning(feed.url, parsed.warning)
        if parsed.warning:
            log.warning("feed %r is malformed: %s (%d entries read all the same)", feed.name,
                        parsed.warning, len(parsed.entries), extra={"feed": feed.name})
        old = frozenset[int]()
        if state.last_success is None:  # its first poll: what it lists is not all news
            old = backfill.old_entries(parsed.entries, self.clock(),
                                       self.config.feed_backfill(feed))
        new = self._succeeded(feed, etag, modified, body_hash, parsed.entries, fresh_for,
                              response.permanent_url, old)
        log.info("feed %r: %d entries, %d new", feed.name, len(parsed.entries), new,
                 extra={"feed": feed.name})
        return PollResult(feed.name, feed.url, "malformed" if parsed.warning else "new", new,
                          parsed.warning, len(parsed.entries))

    def _succeeded(self, feed: FeedConfig, etag: str | None, modified: str | None,
                   body_hash: str | None, entries: Sequence[Entry] = (),
                   fresh_for: float | None = None,
                   moved_to: str | None = None, old: frozenset[int] = frozenset(),
                   not_modified: bool = False) -> int:
        """Record a good poll; the next one waits at least as long as the server said its answer
        stays fresh (Cache-Control max-age), within `poll.max_backoff`."""
        now = self.clock()
        max_backoff = self.config.poll.max_backoff
        next_check = schedule.next_check(now, self.config.feed_interval(feed), 0, max_backoff)
        if fresh_for:
            next_check = max(next_check, now + min(fresh_for, max_backoff))
        return self.store.record_success(
            feed.url, now=now, etag=etag, last_modified=modified, body_hash=body_hash,
            entries=entries, next_check=next_check, moved_to=moved_to, old=old,
            not_modified=not_modified)

    def _failed(self, feed: FeedConfig, error: str,
                retry_after: float | None = None) -> PollResult:
        """Record a failed poll: back off, and never come back before the server's Retry-After
        (429, 503), within a day."""
        now = self.clock()
        failures = self.store.feed(feed.url).failures + 1
        next_check = schedule.next_check(now, self.config.feed_interval(feed), failures,
                                         self.config.poll.max_backoff)
        if retry_after:
            next_check = max(next_check, now + min(retry_after, 24 * 3600.0))
        self.store.record_failure(feed.url, now=now, next_check=next_check, error=error)
        log.warning("feed %r failed (%d in a row): %s", feed.name, failures, error,
                    extra={"feed": feed.name})
        return PollResult(feed.name, feed.url, "failed", error=error)

    # -- items -----------------------------------------------------------------------------

    async def process_pending(self) -> Completed:
        """Complete every new item. Up to BATCH items are fetched and extracted at once, and each
        is committed as soon as it is ready, so one slow site delays its own articles only."""
        window = self.config.dedup.window
        if self._stories is None:  # built once from the store, then kept up to date
            self._stories = StoryIndex.of(
                window, self.store.recent_candidates(self.clock() - 2 * window), self.clock())
        processed = queued = old = 0
        in_flight: dict[asyncio.Task[tuple[Article, Fingerprint, bool]], PendingItem] = {}
        last_started = 0  # an item that fails stays new, for the next pass, not this one
        exhausted = False
        while True:
            if not (self.stopping or exhausted) and len(in_flight) < BATCH:
                fresh = self.store.pending_items(BATCH - len(in_flight), after=last_started,
                                                 now=self.clock())
                exhausted = not fresh
                for item in fresh:
                    last_started = item.id
                    in_flight[asyncio.create_task(self._analyse(item))] = item
            if not in_flight:
                return Completed(processed, queued, old)
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                item = in_flight.pop(task)
                try:
                    article, fingerprint, transient = task.result()
                    queued += await self._complete(item, article, fingerprint, transient)
                    processed += 1
                    old += item.old
                except Exception:  # a bug on one item must not stop the others; it stays new
                    tries = self.store.item_failed(item.id, self.clock(), ITEM_RETRY_AFTER,
                                                   ITEM_RETRY_MAX)
                    log.exception("item %d: not completed (%d failed attempt(s)); tried again "
                                  "later", item.id, tries, extra={"item": item.id})

    async def _complete(self, item: PendingItem, article: Article, fingerprint: Fingerprint,
                        page_failed: bool = False) -> int:
        """Match, assign to a story, and commit the item with its alerts. Returns alerts queued.
        A story alerts once per channel, naming every rule that matched; its later articles are
        follow-ups on the channels it alerted on, and so are live pages and bulletins about it
        (they stay out of its story). A dossier page raises nothing: it is no news."""
        assert self._stories is not None
        matches = await self._match(item, article)
        assignment = self._assign(item, article, fingerprint)
        notify = self.config.notify
        planned: list[Alert] = []
        if fingerprint.kind != evergreen.DOSSIER and not item.old:
            planned = alerts.plan(article, matches, notify.priority, notify.zone)
        story = assignment.story_id
        if story is None and fingerprint.kind in (evergreen.LIVE, evergreen.BULLETIN):
            story = self._stories.related(fingerprint)  # a live page on a story that alerted
        if story is not None and not item.old:
            alerted = self.store.story_channels(story)
            for merged in assignment.merged:
                alerted = self.store.story_channels(merged) | alerted
            planned = [alert for alert in planned if alert.channel not in alerted]
            planned += alerts.followups(
                article, alerted, self.clock(), self.config.dedup.followups,
                article.outlet not in self.store.story_outlets(story), notify.zone)
        story_id, count = self.store.complete_item(
            item.id, now=self.clock(), article=article, fingerprint=fingerprint,
            assignment=assignment, matched=[m.rule for m in matches], alerts=planned,
            max_age=notify.max_age,
            page_retry_at=self.clock() + PAGE_RETRY_AFTER if page_failed else None)
        self._stories.merge(story_id, assignment.merged)
        self._stories.add(story_id, fingerprint, self.clock())
        self.metrics.articles.labels(article.source).inc()
        self.metrics.pipeline_seconds.observe(max(0.0, self.clock() - item.seen_at))
        for match in matches:
            self.metrics.matches.labels(match.rule).inc()
        if matches:
            rules = ",".join(m.rule for m in matches)
            log.info("item %d %r: rules %s, story %d (%s), %d alert(s) queued", item.id,
                     article.title[:80], rules, story_id, assignment.reason, count,
                     extra={"item": item.id, "rule": rules})
        return count

    def _assign(self, item: PendingItem, article: Article,
                fingerprint: Fingerprint) -> StoryAssignment:
        """The story: that of another item the page says it is (its canonical URL), else the
        one the index finds."""
        if article.canonical_url:
            story = self.store.story_of_url(article.canonical_url, other_than=item.id)
            if story is not None:
                return StoryAssignment(story, "same-url", 1.0)
        assert self._stories is not None
        return self._stories.assign(fingerprint)

    async def _match(self, item: PendingItem, article: Article) -> list[Match]:
        """The rules the article matches; entities are recognised (in a worker) only when an
        entity rule's name occurs in it."""
        rules = self.rules  # one rule set for the whole item, even if a reload swaps it meanwhile
        scan = rules.scan(article)
        needed = rules.entity_fields(scan)
        labels = None
        if needed:
            try:
                labels = await self.workers.run(entities.recognise,
                                                {name: scan.texts[name] for name in needed})
            except WorkerFailed as error:
                log.warning("item %d: entity recognition failed (%s); entity terms count as "
                            "absent", item.id, error)
        return rules.evaluate(scan, labels)

    async def _analyse(self, item: PendingItem) -> tuple[Article, Fingerprint, bool]:
        """The article, its fingerprint, and whether its page failed in a way worth another
        try later (a timeout, a 5xx, the network)."""
        html, transient = None, False
        if item.entry.link:
            try:
                page = await self.http.get(item.entry.link, accept=PAGE_ACCEPT,
                                           max_size=self.config.network.max_page_size)
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
            return await self.workers.run(analysis.analyse, item.entry, html, item.outlet, tags,
                                          item.seen_at)
        except WorkerFailed as error:
            log.warning("item %d: extraction failed (%s); using the feed's summary", item.id, error)
            return analysis.analyse(item.entry, None, item.outlet, tags, item.seen_at)

    async def retry_pages(self) -> int:
        """Pages that failed for a while (PAGE_RETRIES more tries, PAGE_RETRY_AFTER apart and
        doubling) are fetched again: the full text replaces the summary, and a rule that matches
        it but did not match the summary alerts, on the channels its story has not alerted on.
        Returns alerts queued."""
        notify = self.config.notify
        queued = 0
        for due in self.store.pages_to_retry(self.clock()):
            item = due.item
            try:
                page = await self.http.get(item.entry.link or "", accept=PAGE_ACCEPT,
                                           max_size=self.config.network.max_page_size)
            except FetchError as error:
                again = error.transient and due.tries + 1 < PAGE_RETRIES
                self.store.page_failed(item.id, self.clock() + PAGE_RETRY_AFTER * 2 ** (
                    due.tries + 1) if again else None)
                log.info("item %d: page still unavailable (%s)%s", item.id, error,
                         "" if again else "; keeping the summary")
                continue
            article, fingerprint = await self._extract(item, page.body)
            if article.source != "page":
                log.info("item %d: its page holds no article; keeping the summary", item.id)
                self.store.page_failed(item.id, None)
                continue
            matches = await self._match(item, article)
            new = [match for match in matches if match.rule not in due.matched]
            planned: list[Alert] = []
            if new and not item.old:
                alerted = self.store.story_channels(due.story_id)
                planned = [alert for alert in alerts.plan(article, new, notify.priority,
                                                          notify.zone)
                           if alert.channel not in alerted]
            queued += self.store.refresh_article(
                item.id, story_id=due.story_id, now=self.clock(), article=article,
                fingerprint=fingerprint, matched=[match.rule for match in matches],
                alerts=planned, max_age=notify.max_age)
            log.info("item %d: page fetched at last; rules %s", item.id,
                     ",".join(match.rule for match in matches) or "none",
                     extra={"item": item.id})
        return queued

    def check_stale(self) -> int:
        """Queue an operational alert for each feed that went silent or spoke again."""
        now = self.clock()
        states = {state.url: state for state in self.store.feeds()}
        feeds = [(feed.name, feed.stale_after or self.config.poll.stale_after, states[feed.url])
                 for feed in self.enabled_feeds() if feed.url in states]
        notify = self.config.notify
        found = staleness.changes(feeds, now)
        for change in found:
            queued = staleness.alerts(change, notify.ops_channels(), notify.zone)
            self.store.set_stale(change.state.url, stale_since=now if change.stale else None,
                                 now=now, max_age=notify.max_age, alerts=queued)
            log.warning("feed %r %s", change.name, "went silent" if change.stale
                        else "speaks again", extra={"feed": change.name})
        return len(found)

    def refresh_gauges(self) -> None:
        """Gauges read from the store, brought up to date before each scrape."""
        now = self.clock()
        states = {state.url: state for state in self.store.feeds()}
        self.metrics.outbox_depth.set(self.store.outbox_depth())
        self.metrics.feeds_failing.set(sum(states[feed.url].failures > 0
                                           for feed in self.enabled_feeds()
                                           if feed.url in states))
        for feed in self.enabled_feeds():
            state = states.get(feed.url)
            if state and state.last_success:
                self.metrics.feed_success_age.labels(feed.name).set(now - state.last_success)

    # -- a whole pass ----------------------------------------------------------------------

    async def run_pass(self, feeds_to_poll: Sequence[FeedConfig]) -> PassReport:
        report = PassReport()
        report.polls = await self.poll_all(feeds_to_poll)
        report.processed, report.queued, report.old = await self.process_pending()
        report.queued += await self.retry_pages()
        report.queued += self.check_stale()
        report.sent, report.failed = await self.deliver_due()
        report.held = self.store.held(self.clock())
        return report


def _interleave_hosts(numbered: list[tuple[int, FeedConfig]]) -> list[tuple[int, FeedConfig]]:
    """a1 a2 a3 b1 c1 → a1 b1 c1 a2 a3: round robin over hosts, each host's feeds in order."""
    by_host: dict[str, list[tuple[int, FeedConfig]]] = {}
    for pair in numbered:
        by_host.setdefault(urlsplit(pair[1].url).netloc, []).append(pair)
    rounds = itertools.zip_longest(*by_host.values())
    return [pair for round_ in rounds for pair in round_ if pair is not None]


def _charset_headers(headers: dict[str, str]) -> dict[str, str]:
    """Only what feedparser needs to know of the response: its declared type and charset."""
    return {k: v for k, v in headers.items() if k in ("content-type", "content-language")}
