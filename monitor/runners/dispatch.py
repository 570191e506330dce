"""The dispatch runner: due alerts to their channels, each target of a channel on its own (a
URL that failed is retried alone), held, demoted, expired or dead-lettered as `decide_delivery`,
`decide_failure` and `decide_merged` say. Polling and completing items never wait for it (the
daemon runs it beside them).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitor.config.channels import ChannelConfig
from monitor.core import templates
from monitor.core.clocks import rate
from monitor.core.deciders import Send, decide_delivery, decide_failure, decide_merged
from monitor.core.errors import LeaseLost
from monitor.core.models import QueuedAlert
from monitor.runners.context import Context

log = logging.getLogger(__name__)

_PRIORITY_ORDER = ["low", "normal", "high"]
SEND_MARGIN = 30.0  # seconds a lease outlasts a send's deadline (for recording its result)
RECORD_TRIES, RECORD_PAUSE = 4, 1.0  # recording a delivery: 1 + 2 + 4 s between tries


class _RenderFailed(Exception):
    """The message of an alert could not be rendered (its cause says why)."""


class DispatchRunner:
    def __init__(self, context: Context) -> None:
        self.context = context
        self._sent_at: dict[str, list[float]] = {}  # channel → when messages went out

    async def deliver_due(self) -> tuple[int, int]:
        """Send every due alert; channels in parallel, one message at a time within a channel.
        Returns (alerts sent, alerts failed)."""
        ctx = self.context
        due = await ctx.store.call(self._due)
        by_channel: dict[str, list[QueuedAlert]] = {}
        for alert in due:
            by_channel.setdefault(alert.channel, []).append(alert)
        results = await asyncio.gather(*(self._settled(name, queued)
                                         for name, queued in by_channel.items()))
        return sum(r[0] for r in results), sum(r[1] for r in results)

    async def _settled(self, name: str, queued: list[QueuedAlert]) -> tuple[int, int]:
        """`_deliver_channel`, after which this process holds none of these alerts any more
        (sent, held, failed or lost: a lease left by a failed write ends on its own, and the
        alerts are taken up again then). A channel whose bookkeeping fails (the database
        refusing writes) stops no other channel."""
        try:
            return await self._deliver_channel(name, queued)
        except Exception as error:
            log.exception("delivery to %r stopped: its alerts are tried again once their lease "
                          "ends", name)
            self.context.troubles.note("write-failed", f"delivery to {name!r}: {error}")
            return 0, 0
        finally:
            self.context.store.leases.settle("alerts", [alert.id for alert in queued])

    def _due(self) -> list[QueuedAlert]:
        """Headlines of merged stories demoted, expired alerts dead-lettered, then the due
        ones claimed (on a database thread)."""
        ctx = self.context
        self._demote_merged()
        expired = ctx.store.outbox.expire(ctx.clock())
        if expired:
            log.warning("%d alert(s) dead-lettered: past notify.max_age before they could be "
                        "sent", len(expired))
        return ctx.store.outbox.due(ctx.clock(), lease=ctx.config.lease)

    def _demote_merged(self) -> None:
        ctx = self.context
        for demote in decide_merged(ctx.store.outbox.merged_headlines(), ctx.clock(),
                                    ctx.config.dedup.followups):
            if demote.payload is None:
                ctx.store.outbox.drop(demote.alert_id, ctx.clock())
            else:
                ctx.store.outbox.demote(demote.alert_id, demote.item_id, demote.title,
                                        demote.payload, demote.hold_until, ctx.clock())

    async def _deliver_channel(self, name: str, queued: list[QueuedAlert]) -> tuple[int, int]:
        ctx = self.context
        outbox, metrics = ctx.store.outbox, ctx.metrics
        channel = ctx.notifier.channel(name)
        now = ctx.clock()
        sends, holds = decide_delivery(queued, channel, now, ctx.config.notify.zone,
                                       self._sent_in_window(name, channel, now))
        for hold in holds:
            await ctx.store.call(outbox.hold, hold.ids, hold.until, ctx.config.notify.max_age)
        sent = failed = 0
        for send in sends:
            if ctx.stopping:
                break
            ids = [alert.id for alert in send.alerts]
            try:
                errors = await self._send_to_targets(name, send)
            except LeaseLost:
                log.warning("%d alert(s) to %r left to another instance: this process was "
                            "paused past its lease", len(ids), name)
                self.context.troubles.note("lease-lost", f"alerts to {name!r}")
                continue
            except _RenderFailed as failure:  # this alert's fault alone: the others still go out
                cause = failure.__cause__
                reason = f"cannot render: {type(cause).__name__}: {cause}"
                await ctx.store.call(functools.partial(outbox.mark_failed, ids, error=reason,
                                                       retry_at=None))
                metrics.alerts.labels(name, "dead").inc(len(ids))
                log.error("%d alert(s) to %r dead-lettered: %s", len(ids), name, reason)
                failed += len(ids)
                continue
            now = ctx.clock()
            if channel is not None and channel.rate_limit:  # counted only where it limits
                self._sent_at.setdefault(name, []).append(now)
            if not errors:
                await ctx.store.call(outbox.mark_sent, ids, now)
                metrics.alerts.labels(name, "sent").inc(len(ids))
                sent += len(ids)
                continue
            failed += len(ids)
            reasons = "; ".join(errors)
            for retry in decide_failure(send, now, ctx.config.notify.max_retry_delay):
                await ctx.store.call(functools.partial(
                    outbox.mark_failed, [retry.alert_id], error=reasons, retry_at=retry.at))
                metrics.alerts.labels(name, "failed" if retry.at else "dead").inc()
            log.warning("%d alert(s) to %r failed: %s", len(ids), name, reasons)
        return sent, failed

    async def _send_to_targets(self, name: str, send: Send) -> list[str]:
        """Send to each target of the channel what it does not have yet; each success is
        recorded at once, so a retry after a partial failure goes only where it failed.
        Before each target, the alerts' leases are checked and made to outlast the send
        (`hold_on`): raises LeaseLost when another instance took them meanwhile (this one was
        paused), and what it has delivered since is not sent again. Returns the failures, as
        `target: reason`."""
        ctx = self.context
        outbox, notifier = ctx.store.outbox, ctx.notifier
        ids = [alert.id for alert in send.alerts]
        priority = max((a.priority for a in send.alerts), key=_PRIORITY_ORDER.index)
        margin = max(ctx.config.lease, ctx.config.notify.timeout + SEND_MARGIN)
        errors = []
        channel = ctx.config.notify.channels.get(name)
        briefs = None
        if send.digest and len(send.alerts) > 1 and channel and channel.digest \
                and channel.digest.briefing:
            briefs = await ctx.store.call(self._briefs, {a.story_id for a in send.alerts})
        for target in notifier.targets(name):
            if not await ctx.store.call(ctx.store.leases.hold_on, "alerts", ids, ctx.clock(),
                                        margin):
                raise LeaseLost(f"alerts {ids}")
            delivered = await ctx.store.call(outbox.delivered, ids)  # after the check: fresh
            missing = tuple(a for a in send.alerts if target.key not in delivered[a.id])
            if not missing:
                continue
            try:
                title, body, fmt = self._render(name, replace(send, alerts=missing), briefs)
            except Exception as error:  # a template can raise anything
                raise _RenderFailed from error
            result = await asyncio.to_thread(notifier.send_to, name, target, title, body, fmt,
                                             priority)
            if result.ok:
                await self._record_delivery([a.id for a in missing], target.key)
            else:
                errors.append(f"{target.shown}: {result.error or 'failed'}")
        return errors

    async def _record_delivery(self, ids: list[int], target: str) -> None:
        """A message went out: recorded, tried again a few times when the database fails
        (a killed connection, a restarting server: the next try gets a fresh one), since a
        delivery not recorded is sent again once the alerts' lease ends."""
        ctx = self.context
        for attempt in range(RECORD_TRIES):
            try:
                await ctx.store.call(ctx.store.outbox.record_delivery, ids, target, ctx.clock())
                return
            except Exception as error:
                if attempt == RECORD_TRIES - 1:
                    raise
                log.warning("a sent alert's delivery could not be recorded (%s); trying again",
                            error)
                await asyncio.sleep(RECORD_PAUSE * 2 ** attempt)

    def _briefs(self, story_ids: set[int]) -> dict[int, tuple[int, dict[str, Any]]]:
        """For a briefing: each alert's story → (the live story it is or joined, what the
        store knows of it). Operational alerts (no story) have none."""
        zone = self.context.config.notify.zone
        found = {}
        for story_id in story_ids - {0}:
            story = self.context.store.console.live_story(story_id)
            if story is not None:
                found[story_id] = (story.id, {
                    "title": story.title, "articles": story.articles,
                    "outlets": list(story.outlets), "rules": list(story.rules),
                    "since": datetime.fromtimestamp(story.first_seen, zone).strftime(
                        "%d/%m à %H:%M")})
        return found

    def _render(self, channel: str, send: Send,
                briefs: dict[int, tuple[int, dict[str, Any]]] | None = None,
                ) -> tuple[str, str, str]:
        notifier = self.context.notifier
        fmt = notifier.format_of(channel)
        payloads = [alert.payload for alert in send.alerts]
        if send.digest and len(payloads) > 1 and briefs is not None:
            sections: dict[int, tuple[dict[str, Any], list[Any]]] = {}
            for alert in send.alerts:  # one section per live story, in the alerts' order
                live, facts = briefs.get(alert.story_id, (-alert.id, {"title": alert.title}))
                sections.setdefault(live, (facts, []))[1].append(alert.payload)
            title, body = templates.render_briefing(list(sections.values()), fmt)
            return title, body, fmt
        if send.digest and len(payloads) > 1:
            title, body = templates.render_digest(payloads, fmt)
            return title, body, fmt
        payload = payloads[0]
        template = payload.get("template") or notifier.template_of(channel)
        return payload["title"], templates.render(payload, fmt, template), fmt

    def _sent_in_window(self, name: str, channel: ChannelConfig | None, now: float) -> int:
        """Messages sent on this channel within its rate-limit window (kept in memory)."""
        if channel is None or not channel.rate_limit:
            return 0
        _, window = rate(channel.rate_limit)
        recent = [t for t in self._sent_at.get(name, []) if t > now - window]
        self._sent_at[name] = recent
        return len(recent)
