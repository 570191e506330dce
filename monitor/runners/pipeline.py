"""One road, stage by stage: poll a feed, store its new items, complete each item (page, text,
rules, story, alerts), deliver the outbox. Three runners do it (`PollRunner`, `CompleteRunner`,
`DispatchRunner`), each its own scheduler job in the daemon; each commits before the next
stage reads, so a crash anywhere resumes where it stopped: new items wait in the store, alerts
wait in the outbox. `Pipeline` holds them over one shared context, and runs a whole pass in
order for `monitor once`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitor.config.config import Config, FeedConfig
from monitor.core import staleness
from monitor.core.rules import RuleSet
from monitor.net.http import HttpClient
from monitor.net.notify import Notifier
from monitor.runners.completing import Completed, CompleteRunner
from monitor.runners.context import Context
from monitor.runners.dispatch import DispatchRunner
from monitor.runners.polling import PollResult, PollRunner
from monitor.runners.workers import Workers
from monitor.store.roles import Storage
from monitor.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    polls: list[PollResult] = field(default_factory=list)
    processed: int = 0
    old: int = 0
    queued: int = 0
    sent: int = 0
    failed: int = 0
    held: list[tuple[str, int, float]] = field(default_factory=list)  # see Store.held


class Pipeline:
    def __init__(self, config: Config, rules: RuleSet, store: Storage, http: HttpClient,
                 workers: Workers, notifier: Notifier,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None,
                 entities: Workers | None = None) -> None:
        self.context = Context(config, rules, notifier, store, http, workers, clock,
                               metrics or Metrics(), entities=entities)
        self.polling = PollRunner(self.context)
        self.completing = CompleteRunner(self.context)
        self.dispatch = DispatchRunner(self.context)
        self.reconfigure(config, rules, notifier)

    # the shared context's most read parts
    @property
    def config(self) -> Config:
        return self.context.config

    @property
    def rules(self) -> RuleSet:
        return self.context.rules

    @property
    def store(self) -> Storage:
        return self.context.store

    @property
    def stopping(self) -> bool:
        return self.context.stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self.context.stopping = value

    def reconfigure(self, config: Config, rules: RuleSet, notifier: Notifier) -> None:
        """Take up a new config (at start, and when it is reloaded): feeds added are due at
        once, feeds removed are no longer polled (their items and stories stay), and a feed
        whose interval changed is rescheduled now, from its last poll."""
        self.completing.reconfigure(config)
        ctx = self.context
        before = {feed.url: ctx.config.feed_interval(feed) for feed in ctx.config.feeds}
        ctx.config, ctx.rules, ctx.notifier = config, rules, notifier
        ctx.store.feeds.sync(((feed.url, feed.name, feed.enabled) for feed in config.feeds),
                             ctx.clock())
        for feed in config.feeds:
            interval = config.feed_interval(feed)
            if feed.url in before and before[feed.url] != interval:
                ctx.store.feeds.reschedule(feed.url, interval)
                log.info("feed '%s': polled every %g s from now on (was %g s)", feed.name,
                         interval, before[feed.url], extra={"feed": feed.name})

    def enabled_feeds(self) -> list[FeedConfig]:
        return [feed for feed in self.config.feeds if feed.enabled]

    def due_feeds(self) -> list[FeedConfig]:
        return [feed for feed, _ in self.polling.due_feeds()]

    async def poll_all(self, feeds_to_poll: Sequence[FeedConfig]) -> list[PollResult]:
        return await self.polling.poll_all(feeds_to_poll)

    async def process_pending(self) -> Completed:
        return await self.completing.process_pending()

    async def retry_pages(self) -> int:
        return await self.completing.retry_pages()

    async def deliver_due(self) -> tuple[int, int]:
        return await self.dispatch.deliver_due()

    def check_stale(self) -> int:
        """Queue an operational alert for each feed that went silent or spoke again."""
        ctx = self.context
        now = ctx.clock()
        states = {state.url: state for state in ctx.store.feeds.all()}
        feeds = [(feed.name, feed.stale_after or ctx.config.poll.stale_after, states[feed.url])
                 for feed in self.enabled_feeds() if feed.url in states]
        notify = ctx.config.notify
        found = staleness.changes(feeds, now)
        for change in found:
            queued = staleness.alerts(change, notify.ops_channels(), notify.zone)
            ctx.store.feeds.set_stale(change.state.url, stale_since=now if change.stale else None,
                                      now=now, max_age=notify.max_age, alerts=queued)
            log.warning("feed %r %s", change.name, "went silent" if change.stale
                        else "speaks again", extra={"feed": change.name})
        return len(found)

    def refresh_gauges(self) -> None:
        """Gauges read from the store, brought up to date before each scrape."""
        metrics = self.context.metrics
        now = self.context.clock()
        states = {state.url: state for state in self.store.feeds.all()}
        metrics.outbox_depth.set(self.store.outbox.depth())
        metrics.feeds_failing.set(sum(states[feed.url].failures > 0
                                           for feed in self.enabled_feeds()
                                           if feed.url in states))
        metrics.feed_success_age.set_all([
            (feed.name, now - state.last_success) for feed in self.enabled_feeds()
            if (state := states.get(feed.url)) is not None and state.last_success])

    async def run_pass(self, feeds_to_poll: Sequence[FeedConfig]) -> PassReport:
        report = PassReport()
        report.polls = await self.poll_all(feeds_to_poll)
        report.processed, report.queued, report.old = await self.process_pending()
        report.queued += await self.retry_pages()
        report.queued += self.check_stale()
        report.sent, report.failed = await self.deliver_due()
        report.held = self.store.outbox.held(self.context.clock())
        return report
