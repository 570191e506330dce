"""The long-running daemon: APScheduler ticks drive the pipeline until SIGTERM or Ctrl-C.

Schedules live in the database (each feed's `next_check`), not in APScheduler: its in-memory jobs
are only clocks, one per runner: one polls whatever feeds are due, one completes new items, one
drains the alert outbox (none waits for another: each also starts the next at once when it has
left it work), and one watches config.yaml and the rule files (SIGHUP reloads them too).
Stopping sets `pipeline.stopping`, waits for the step in progress to commit, then shuts the scheduler down
(APScheduler would cancel running coroutines mid-step).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config.config import Config
from monitor.core.errors import Busy, InvalidInput
from monitor.core.rulefiles import rule_files
from monitor.core.rules import RuleSet
from monitor.daemon import systemd
from monitor.runners.app import load_config, load_rules, notifier
from monitor.runners.pipeline import Pipeline
from monitor.web.console import Console
from monitor.web.server import ConsoleServer
from monitor.web.views import ReloadLog

log = logging.getLogger(__name__)

DELIVERY_TICK = 5.0
WATCH_TICK = 2.0
# Settings a running daemon cannot take up: they shape what it opened at start.
RESTART_NEEDED = ("database", "instance", "lease", "workers", "http", "network", "watch_rules")
HEARTBEAT = 5.0
IDLE_WORKERS = 600.0  # seconds without a task after which the named-entity process stops
PRUNE_EVERY = 3600.0
HEALTH_STALE = 30.0  # /healthz fails when the scheduler has run no job for this long
DRAIN_SECONDS = 60.0
DRAIN_MARGIN = 15.0  # beyond notify.timeout, for the outbox to record a send that finished


def files_signature(config: Config) -> tuple[tuple[str, int, int], ...]:
    """What changes when config.yaml or a rule file is added, removed or edited (names, sizes,
    mtimes)."""
    files, _ = rule_files(config.rules)
    signature = []
    for file in [config.path, *files]:
        try:
            stat = file.stat()
        except OSError:
            continue
        signature.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


OPEN_FILES = 65_536


def more_open_files() -> None:
    """The soft limit on open files raised towards the hard one (often 1,024 of 524,288 by
    default): sockets for feeds, pages and the console, whatever a crowd of clients holds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        log.debug("open files: up to %d (was %d)", wanted, soft)


def _emptied(old: RuleSet, new: RuleSet) -> list[str]:
    """Rule files that had rules and are now blank: more likely caught mid-save than meant."""
    def files(rules: RuleSet) -> set[str]:
        return {rule.origin.rsplit(":", 1)[0] for rule in rules.rules}

    blank = []
    for name in sorted(files(old) - files(new)):
        try:
            if not Path(name).read_text(encoding="utf-8").strip():
                blank.append(name)
        except OSError:  # removed: that is meant
            continue
    return blank


class Daemon:
    def __init__(self, pipeline: Pipeline, service: systemd.Notifier | None = None) -> None:
        self.pipeline = pipeline
        pipeline.polling.on_new_items = self._new_items
        self.systemd = service or systemd.Notifier()
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()
        self._completing = asyncio.Lock()  # one run of each runner at a time
        self._delivering = asyncio.Lock()
        self._signature = files_signature(pipeline.config)
        # a change seen once, reloaded when it holds
        self._settling: tuple[tuple[str, int, int], ...] | None = None
        self._last_beat: float | None = None  # monotonic time the scheduler last ran a job
        self.reloads = ReloadLog()  # the last reload, as the console shows it
        self.failure: str | None = None  # why it stopped on its own, if it did
        self._status = ""  # what `systemctl status` shows when all is well
        self._degraded = False  # whether it shows troubles now

    def health(self) -> tuple[bool, str]:
        """/healthz: unhealthy when the scheduler runs no job or the database takes no write
        (this process's heartbeat is written, a real write); degraded, yet working, while it
        works around troubles (`Troubles`): restarting would mend neither."""
        beat = self._last_beat
        if beat is None or time.monotonic() - beat > HEALTH_STALE:
            return False, "unhealthy: scheduler not ticking"
        troubles = self.pipeline.context.troubles
        problem = self.pipeline.store.beat(time.time())
        if problem:
            troubles.note("database", problem)
            return False, f"unhealthy: database not writable: {problem}"
        troubles.clear("database")
        current = troubles.current()
        return True, "degraded: " + "; ".join(current) if current else "ok"

    async def heartbeat(self) -> None:
        """Proves the event loop and the scheduler are alive: for /healthz and the watchdog;
        `systemctl status` shows the troubles worked around while they last."""
        self._last_beat = time.monotonic()
        self.systemd.watchdog()
        troubles = self.pipeline.context.troubles.current(details=True)
        if troubles or self._degraded:
            self.systemd.status("degraded: " + "; ".join(troubles) if troubles else self._status)
            self._degraded = bool(troubles)

    def _ready(self, status: str) -> None:
        self._status = status
        self.systemd.ready(status)

    def reload(self, reason: str = "SIGHUP") -> bool:
        """Load config.yaml and every rule file again and swap them in whole, or keep the
        running ones when anything is invalid. Feeds, channels, poll and dedup settings and
        rules apply at once (new rules to items completed from now on); the settings in
        RESTART_NEEDED wait for a restart."""
        running = self.pipeline.config
        self.systemd.reloading()
        try:
            config = load_config(running.path)
            self._signature = files_signature(config)
            rules = load_rules(config)
        except InvalidInput as error:
            self._signature = files_signature(running)
            self.reloads.record(time.time(), reason, [str(p) for p in error.problems])
            for problem in error.problems:
                log.error("not reloaded: %s", problem)
            log.error("config and rules not reloaded (%s): %d problem(s); the running config "
                      "and its %d rule(s) keep running", reason, len(error.problems),
                      len(self.pipeline.rules))
            self._ready(f"not reloaded: {len(error.problems)} problem(s)")
            return False
        blank = _emptied(self.pipeline.rules, rules)
        if blank:
            log.warning("config and rules not reloaded (%s): %s became empty (a save in "
                        "progress?); the previous %d rule(s) keep running; write `rules: []` in "
                        "a file to empty it on purpose", reason, ", ".join(blank),
                        len(self.pipeline.rules))
            self._ready("not reloaded: a rule file became empty")
            self.reloads.record(time.time(), reason, [f"{name}: became empty (a save in "
                                                      "progress?)" for name in blank])
            return False
        waiting = [key for key in RESTART_NEEDED if getattr(config, key) != getattr(running, key)]
        if config.poll.tick != running.poll.tick:
            waiting.append("poll.tick")
        if waiting:
            log.warning("%s changed: taken up at the next restart", ", ".join(waiting))
        config = config.model_copy(update={
            **{key: getattr(running, key) for key in RESTART_NEEDED},
            "poll": config.poll.model_copy(update={"tick": running.poll.tick})})
        self.pipeline.reconfigure(config, rules, notifier(config, self.pipeline.context.notifier.out))
        self.reloads.record(time.time(), reason)
        feeds = len(self.pipeline.enabled_feeds())
        log.info("config and rules reloaded (%s): %d feed(s), %d channel(s), %d rule(s)",
                 reason, feeds, len(config.notify.channels), len(rules))
        self._ready(f"{feeds} feed(s), {len(rules)} rule(s)")
        return True

    async def watch_files(self) -> None:
        """Reload once a change has held for a whole watch tick: an editor that truncates a
        file then writes it is not caught in between."""
        current = files_signature(self.pipeline.config)
        if current == self._signature:
            self._settling = None
        elif current != self._settling:
            self._settling = current
        else:
            self._settling = None
            self.reload("files changed")

    def _metrics(self) -> bytes:
        self.pipeline.refresh_gauges()
        return self.pipeline.context.metrics.exposition()

    def stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping: finishing the work in progress")
        self._stop.set()

    async def _guarded(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run a job, remembered so shutdown can wait for it; log and survive its errors."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await job()
        except Exception:
            log.exception("%s failed; it runs again at its next tick", job.__name__)
        finally:
            self._running.discard(task)

    async def poll(self) -> None:
        if self._stop.is_set():
            return
        polls = await self.pipeline.polling.poll_due()
        if polls:
            failed = sum(poll.status == "failed" for poll in polls)
            log.info("polled %d feed(s), %d failed", len(polls), failed)
        stale = await self.pipeline.store.call(self.pipeline.check_stale)
        if stale:
            self._soon(self.deliver, self._delivering)

    def _new_items(self) -> None:
        """A poll stored new items: completed now, while the rest of the cycle is polled."""
        self.pipeline.completing.new_items_stored()
        if not self._stop.is_set():
            self._soon(self.complete, self._completing)

    async def complete(self) -> None:
        if self._stop.is_set():
            return
        async with self._completing:
            processed, queued, _ = await self.pipeline.process_pending()
            if processed:
                log.info("completed %d item(s), %d alert(s) queued", processed, queued)
            queued += await self.pipeline.retry_pages()
        if queued:
            self._soon(self.deliver, self._delivering)

    def _soon(self, job: Callable[[], Awaitable[None]], busy: asyncio.Lock) -> None:
        """Start a runner at once, beside the caller, unless it is running (the run under way
        picks the new work up at its next round)."""
        if not busy.locked():
            self._spawn(job)

    def _spawn(self, job: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(self._guarded(job))
        self._running.add(task)  # held until it has run: shutdown waits for it too
        task.add_done_callback(self._running.discard)

    async def prune(self) -> None:
        config, store, now = self.pipeline.config, self.pipeline.store, self.pipeline.context.clock()
        unfiled = await store.call(store.stories.prune, now - 2 * config.dedup.window)
        if unfiled:
            log.info("story index: %d row(s) of articles older than two windows deleted", unfiled)
        slimmed, deleted = await store.call(store.prune, now - config.retention)
        if slimmed or deleted:
            log.info("retention: %d article(s) slimmed, %d old alert(s) deleted", slimmed, deleted)

    async def rest_idle_workers(self) -> None:
        """The named-entity process, idle for a while, gives its language model's memory back
        (about 110 MB): most items need none, and rules without entities never start it."""
        entities = self.pipeline.context.entities
        if entities is not None:
            entities.close_if_idle(IDLE_WORKERS)

    async def renew_leases(self) -> None:
        """The work this process has in progress stays its own while it lives and holds its
        instance name (see leases.py); without the name, it stops."""
        store = self.pipeline.store
        try:
            await store.call(store.leases.keep_name)
        except Busy as error:
            log.error("%s", error)
            self.failure = str(error)
            self.stop()
            return
        await store.call(store.leases.renew, self.pipeline.context.clock(),
                         self.pipeline.config.lease)
        problem = await store.call(store.beat, time.time())
        if problem:
            log.warning("the database takes no writes: %s", problem)
            self.pipeline.context.troubles.note("database", problem)
        else:
            self.pipeline.context.troubles.clear("database")

    async def deliver(self) -> None:
        async with self._delivering:  # one sender at a time: an alert is never sent twice
            await self.pipeline.deliver_due()

    async def run(self) -> None:
        more_open_files()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        config = self.pipeline.config
        scheduler = AsyncIOScheduler(event_loop=loop)
        options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(self._guarded, "interval", args=[self.poll], seconds=config.poll.tick,
                          next_run_time=datetime.now(), id="poll", **options)
        scheduler.add_job(self._guarded, "interval", args=[self.complete],
                          seconds=config.poll.tick, next_run_time=datetime.now(), id="complete",
                          **options)
        scheduler.add_job(self._guarded, "interval", args=[self.deliver], seconds=DELIVERY_TICK,
                          id="deliver", **options)
        beat = min(HEARTBEAT, self.systemd.watchdog_interval or HEARTBEAT)
        scheduler.add_job(self.heartbeat, "interval", seconds=beat, next_run_time=datetime.now(),
                          id="heartbeat", **options)
        scheduler.add_job(self._guarded, "interval", args=[self.renew_leases],
                          seconds=config.lease / 3, id="leases", **options)
        scheduler.add_job(self._guarded, "interval", args=[self.rest_idle_workers],
                          seconds=IDLE_WORKERS / 4, id="idle-workers", **options)
        scheduler.add_job(self._guarded, "interval", args=[self.prune], seconds=PRUNE_EVERY,
                          next_run_time=datetime.now(), id="prune", **options)
        if config.watch_rules:
            scheduler.add_job(self._guarded, "interval", args=[self.watch_files],
                              seconds=WATCH_TICK, id="watch-files", **options)
        endpoint = None
        if config.http is not None:
            endpoint = ConsoleServer(config.http.listen, Console(
                config=lambda: self.pipeline.config, rules=lambda: self.pipeline.rules,
                store=self.pipeline.store, health=self.health, metrics=self._metrics,
                troubles=lambda: self.pipeline.context.troubles.current(details=True),
                reloads=self.reloads))
            try:
                await endpoint.start()
            except OSError as error:  # the port taken: the alerts matter more than the console
                log.error("console, /healthz and /metrics not started on %s: %s (the daemon "
                          "goes on without them)", config.http.listen, error.strerror or error)
                endpoint = None
        scheduler.start()
        feeds = len(self.pipeline.enabled_feeds())
        log.info("monitor running: %d feed(s), %d rule(s)%s", feeds, len(self.pipeline.rules),
                 "" if feeds else " (no feeds configured: idle)")
        self._ready(f"{feeds} feed(s), {len(self.pipeline.rules)} rule(s)")
        try:
            await self._stop.wait()
        finally:
            self.systemd.stopping()
            if endpoint is not None:
                await endpoint.close()
            self.pipeline.stopping = True
            scheduler.pause()
            if self._running:
                # longer than one send may take: a send cut off after it went out, before
                # the outbox recorded it, would go out again after the restart
                drain = max(DRAIN_SECONDS, self.pipeline.config.notify.timeout + DRAIN_MARGIN)
                done, pending = await asyncio.wait(set(self._running), timeout=drain)
                for task in pending:
                    task.cancel()
            scheduler.shutdown(wait=False)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            log.info("stopped")
        if self.failure:
            raise Busy(self.failure)
