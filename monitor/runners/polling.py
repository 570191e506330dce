"""The poll runner: fetch each due feed, parse what is new, and apply `decide_poll`'s intent.
Feeds are polled in `network.concurrency` lanes, host by host in turn; a feed that fails, or
raises, is a result, never a stop for the others."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from monitor.config.config import Config, FeedConfig
from monitor.core import feeds
from monitor.core.deciders import (
    FeedAnswer,
    FeedFailure,
    PollPolicy,
    RecordFailure,
    decide_poll,
    needs_parsing,
)
from monitor.core.errors import FetchError, LeaseLost
from monitor.core.models import FeedState, ParsedFeed
from monitor.runners.context import Context
from monitor.runners.workers import WorkerFailed

Answer = FeedAnswer | FeedFailure

log = logging.getLogger(__name__)
T = TypeVar("T")

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class PollResult:
    feed: str
    url: str
    status: str  # "new", "malformed" (entries read in spite of errors), "not-modified",
    # "unchanged", "failed", "lost" (polled meanwhile by another instance: result discarded)
    new_items: int = 0
    error: str | None = None  # why it failed, or what was wrong with a malformed one
    entries: int = 0  # entries read


class PollTally:
    """Polls and failures per feed and day (UTC), counted in memory and added to the database
    once per pass (`PollRunner.flush_tally`): a row per feed polled, in one statement, not a
    write of its own on each 304. What a crash loses is one pass's count, which only the
    console's picture of a feed's week shows."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}

    def count(self, url: str, now: float, *, failed: bool) -> None:
        counts = self._counts.setdefault((url, int(now // DAY)), [0, 0])
        counts[0] += 1
        counts[1] += failed

    def take(self) -> list[tuple[str, int, int, int]]:
        """The counts so far, forgotten here: given back with `put_back` if not written."""
        taken, self._counts = self._counts, {}
        return [(url, day, polls, failures) for (url, day), (polls, failures) in taken.items()]

    def put_back(self, rows: list[tuple[str, int, int, int]]) -> None:
        for url, day, polls, failures in rows:
            counts = self._counts.setdefault((url, day), [0, 0])
            counts[0] += polls
            counts[1] += failures


class PollRunner:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.tally = PollTally()
        # each feed's items of its last clean parse whose entries are stored (seen_items.py):
        # not parsed again; and the summaries found to be its furniture (feeds.py). In memory:
        # a restart parses each feed whole once.
        self._seen: dict[str, tuple[bytes, frozenset[str]]] = {}
        # told when a poll stored new items (the daemon: start completing them now, not once
        # the whole cycle is polled)
        self.on_new_items: Callable[[], None] = lambda: None
        # polls whose record is one statement, waiting to be written together (`_record`)
        self._waiting: list[tuple[FeedConfig, FeedState, Answer, asyncio.Future[PollResult]]] = []
        self._writer: asyncio.Task[None] | None = None
        # the enabled feeds by URL, of the config they were read from (a claim looks its
        # feeds up there: 10,000 feeds were indexed anew for each claim of 128)
        self._enabled: tuple[Config | None, dict[str, FeedConfig]] = (None, {})

    def due_feeds(self) -> list[tuple[FeedConfig, FeedState]]:
        """The next due feeds and their states, one per lane, claimed for config.lease (none
        another instance holds): the rest stay free for other instances."""
        ctx = self.context
        config, feeds_by_url = self._enabled
        if config is not ctx.config:  # (a reload replaces the config whole)
            feeds_by_url = {feed.url: feed for feed in ctx.config.feeds if feed.enabled}
            self._enabled = ctx.config, feeds_by_url
        due = ctx.store.feeds.claim_due(ctx.clock(), lease=ctx.config.lease,
                                        limit=ctx.config.network.concurrency)
        # another instance's config (being rolled out) may list a feed this one does not have:
        # left for its lease to end, to an instance that knows it
        ctx.store.leases.settle("feeds", [s.url for s in due if s.url not in feeds_by_url])
        return [(feeds_by_url[state.url], state) for state in due if state.url in feeds_by_url]

    async def poll_due(self) -> list[PollResult]:
        """Poll every due feed, as `poll_all` does, claiming them as the lanes need them: a lane
        that finds the queue empty claims the next feeds, so no lane waits for a batch's
        slowest feed, and several instances share a cycle feed by feed."""
        queue: deque[tuple[FeedConfig, FeedState]] = deque()
        results: list[PollResult] = []
        claiming = asyncio.Lock()  # one lane claims for all at a time

        async def lane() -> None:
            while not self.context.stopping:
                async with claiming:
                    if not queue:
                        due = await self.context.store.call(self.due_feeds)
                        queue.extend(_interleave_hosts(due, lambda pair: pair[0]))
                if not queue:
                    return
                results.append(await self.poll(*queue.popleft()))

        try:
            await asyncio.gather(*(lane() for _ in range(self.context.config.network.concurrency)))
        finally:  # a claim failed (the database): feeds claimed and not polled are not ours
            self.context.store.leases.settle("feeds", [feed.url for feed, _ in queue])
        await self.flush_tally()
        return results

    async def flush_tally(self) -> None:
        """Adds this pass's polls and failures to each feed's days; kept for the next pass
        when the database refuses them (logged, never raised: they are the console's)."""
        rows = self.tally.take()
        if not rows:
            return
        store = self.context.store
        try:
            await store.call(store.feeds.count_polls, rows)
        except Exception as error:
            self.tally.put_back(rows)
            log.warning("polls per day not recorded (%s); kept for the next pass", error)

    async def poll_all(self, feeds_to_poll: Sequence[FeedConfig]) -> list[PollResult]:
        """Poll concurrently in `network.concurrency` lanes, each taking the next feed when its
        last one is stored. A fetched feed holds its body until a parser is free, so the lanes
        bound memory too: with one task per feed, fetching outran parsing and 10,000 feeds kept
        270 MB of bodies waiting. Feeds are taken host by host in turn, so one host's per-host
        limit does not keep the lanes from the others."""
        queue = iter(_interleave_hosts(list(enumerate(feeds_to_poll)), lambda pair: pair[1]))
        results: dict[int, PollResult] = {}

        async def lane() -> None:
            for index, feed in queue:
                if self.context.stopping:
                    return
                results[index] = await self.poll(feed)

        lanes = min(self.context.config.network.concurrency, len(feeds_to_poll))
        await asyncio.gather(*(lane() for _ in range(lanes)))
        await self.flush_tally()
        return [results[index] for index in sorted(results)]  # in the order given

    async def poll(self, feed: FeedConfig, state: FeedState | None = None) -> PollResult:
        """Fetch and parse one feed, store its new items. Never raises: failure is a result.
        A poll that could not be recorded (the database failing, or the feed claimed again by
        another instance while this one was paused) leaves the feed to be polled again once
        its lease ends."""
        started = time.monotonic()
        extra = {"feed": feed.name}
        store = self.context.store
        try:
            if state is None:  # not claimed with it
                state = await store.call(store.feeds.get, feed.url)
            try:
                answer = await self._answer(feed, state)
            except Exception as error:  # a bug on one feed must not stop the others
                log.exception("feed %r: unexpected error", feed.name, extra=extra)
                answer = FeedFailure(f"internal error: {type(error).__name__}: {error}")
            if isinstance(answer, FeedFailure) or answer.parsed is None:
                result = await self._record(feed, state, answer)
            else:
                result = await store.call(self._apply, feed, state, answer)
        except LeaseLost:
            log.warning("feed %r: this poll is discarded: another instance polled it meanwhile "
                        "(this process was paused past its lease)", feed.name, extra=extra)
            self.context.troubles.note("lease-lost", f"feed {feed.name!r}")
            result = PollResult(feed.name, feed.url, "lost")
        except Exception as error:
            log.exception("feed %r: its poll could not be recorded; polled again in %gs",
                          feed.name, self.context.config.lease, extra=extra)
            said = str(error).splitlines()[0] if str(error) else type(error).__name__
            # one line: PostgreSQL adds the CONTEXT of a trigger's error on lines of its own
            self.context.troubles.note("write-failed", f"poll of {feed.name!r}: {said}")
            result = PollResult(feed.name, feed.url, "failed", error=f"not recorded: {said}")
        finally:
            store.leases.settle("feeds", [feed.url])
        metrics = self.context.metrics
        metrics.poll(result.status, time.monotonic() - started)
        self.tally.count(feed.url, self.context.clock(), failed=result.status == "failed")
        metrics.items_new.inc(result.new_items)
        if result.new_items:
            self.on_new_items()
        return result

    async def _answer(self, feed: FeedConfig, state: FeedState) -> FeedAnswer | FeedFailure:
        """What the feed's server says, its document parsed when it holds new bytes."""
        ctx = self.context
        try:
            response = await ctx.http.get(
                state.fetch_url, max_size=ctx.config.network.max_feed_size, etag=state.etag,
                last_modified=state.last_modified, accept=FEED_ACCEPT)
        except FetchError as error:
            return FeedFailure(str(error), error.retry_after)
        if response.permanent_url:
            log.warning("feed %r moved permanently to %s: polling it there from now on "
                        "(update its url in the config)", feed.name, response.permanent_url,
                        extra={"feed": feed.name})
        body_hash = None if response.not_modified else hashlib.sha256(response.body).hexdigest()
        parsed: ParsedFeed | None = None
        if needs_parsing(state, response.not_modified, body_hash):
            try:
                parsed = await ctx.workers.run(feeds.parse, response.body, response.url,
                                               _charset_headers(response.headers), feed.url,
                                               *self._seen.get(feed.url, (b"", frozenset())))
            except WorkerFailed as error:
                return FeedFailure(f"parser failed: {error}")
        return FeedAnswer(response.etag, response.last_modified, response.not_modified,
                          body_hash, parsed, response.max_age, response.permanent_url)

    async def _record(self, feed: FeedConfig, state: FeedState, answer: Answer) -> PollResult:
        """`_apply` for a poll whose record is one statement (a 304, a body as last time, a
        failure: nothing parsed), written with the others that finish meanwhile: while a
        batch is being written on the database's thread, the polls that end wait for the
        next one. A cycle of 304s then costs a thread hop and a transaction per batch, not
        per feed (on SQLite a commit each: half the database thread's CPU of a 304 cycle).
        Raises what `_apply` would. A poll whose record was not written when the process
        died is polled again, as any other, once its lease ends."""
        future: asyncio.Future[PollResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((feed, state, answer, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting())
        return await future

    async def _write_waiting(self) -> None:
        """Write the waiting polls' records, a batch at a time, until none waits."""
        batch: list[tuple[FeedConfig, FeedState, Answer, asyncio.Future[PollResult]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                outcomes = await self.context.store.call(
                    self._apply_batch, [(feed, state, answer) for feed, state, answer, _ in batch])
                for (*_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its poll was cancelled meanwhile
                        continue
                    if isinstance(outcome, PollResult):
                        future.set_result(outcome)
                    else:
                        future.set_exception(outcome)
                batch = []
        except BaseException as error:  # the loop closing (cancelled), or a bug: none waits on
            for *_, future in batch + self._waiting:
                if not future.done():
                    if isinstance(error, Exception):
                        future.set_exception(error)
                    else:
                        future.cancel()
            self._waiting = []
            raise
        finally:
            self._writer = None

    def _apply_batch(self, batch: Sequence[tuple[FeedConfig, FeedState, Answer]]
                     ) -> list[PollResult | Exception]:
        """`_apply` of each, in one transaction; each one's result, or LeaseLost. When the
        database refuses a write, each is written again on its own, as if alone: one feed's
        refused record does not take the others' with it."""
        if len(batch) > 1:
            try:
                with self.context.store.transaction():
                    # a lost lease is a write that changed nothing: the transaction goes on
                    return [self._apply_or(LeaseLost, *record) for record in batch]
            except Exception:
                log.debug("a batch of %d polls' records was refused: each on its own",
                          len(batch), exc_info=True)
        return [self._apply_or(Exception, *record) for record in batch]

    def _apply_or(self, caught: type[Exception], feed: FeedConfig, state: FeedState,
                  answer: Answer) -> PollResult | Exception:
        """`_apply`'s result, or the `caught` error it raised (others propagate)."""
        try:
            return self._apply(feed, state, answer)
        except caught as error:
            return error

    def _apply(self, feed: FeedConfig, state: FeedState,
               answer: FeedAnswer | FeedFailure) -> PollResult:
        ctx = self.context
        now = ctx.clock()
        config = ctx.config
        policy = PollPolicy(config.feed_interval(feed), config.poll.max_backoff,
                            config.feed_backfill(feed))
        intent = decide_poll(state, answer, now, policy)
        if isinstance(intent, RecordFailure):
            ctx.store.feeds.record_failure(feed.url, now=now, next_check=intent.next_check,
                                           error=intent.error, claimed_due=state.next_check)
            self._seen.pop(feed.url, None)
            log.warning("feed %r failed (%d in a row): %s", feed.name, intent.failures,
                        intent.error, extra={"feed": feed.name})
            return PollResult(feed.name, feed.url, "failed", error=intent.error)
        parsed = intent.parsed
        if parsed is not None and parsed.warning:
            log.warning("feed %r is malformed: %s (%d entries read all the same)", feed.name,
                        parsed.warning, len(parsed.entries), extra={"feed": feed.name})
        new = ctx.store.feeds.record_success(
            feed.url, now=now, etag=intent.etag, last_modified=intent.last_modified,
            body_hash=intent.body_hash, entries=parsed.entries if parsed else (),
            next_check=intent.next_check, moved_to=intent.moved_to, old=intent.old,
            not_modified=intent.not_modified, parsed=parsed is not None,
            warning=parsed.warning if parsed else None,
            probably_new=state.last_success is None or bool(parsed and parsed.known),
            claimed_due=state.next_check)
        if parsed is None:
            return PollResult(feed.name, feed.url, intent.status)
        if parsed.digests:  # stored: its items need no parsing next time
            self._seen[feed.url] = (parsed.digests, parsed.furniture)
        else:
            self._seen.pop(feed.url, None)
        listed = len(parsed.entries) + parsed.known
        log.info("feed %r: %d entries (%d as last time, not parsed again), %d new", feed.name,
                 listed, parsed.known, new, extra={"feed": feed.name})
        return PollResult(feed.name, feed.url, intent.status, new, parsed.warning, listed)


def _interleave_hosts(feeds: list[T], feed: Callable[[T], FeedConfig]) -> list[T]:
    """a1 a2 a3 b1 c1 → a1 b1 c1 a2 a3: round robin over hosts, each host's feeds in order."""
    by_host: dict[str, list[T]] = {}
    for pair in feeds:
        by_host.setdefault(urlsplit(feed(pair).url).netloc, []).append(pair)
    rounds = itertools.zip_longest(*by_host.values())
    return [pair for round_ in rounds for pair in round_ if pair is not None]


def _charset_headers(headers: dict[str, str]) -> dict[str, str]:
    """Only what feedparser needs to know of the response: its declared type and charset."""
    return {k: v for k, v in headers.items() if k in ("content-type", "content-language")}
