"""The outbox's delivery: due alerts to their channels, each target of a channel on its own
(a URL that failed is retried alone), held, demoted, expired or dead-lettered as their channel
and age say. Part of `Pipeline`, which provides the store, the notifier, the config and the
clock; polling and completing items never wait for it (the daemon runs it beside them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from monitor import alerts, delivery, schedule, templates
from monitor.channels import ChannelConfig, rate
from monitor.config import Config
from monitor.metrics import Metrics
from monitor.notify import Notifier
from monitor.outbox import QueuedAlert
from monitor.store import Store

log = logging.getLogger(__name__)

_PRIORITY_ORDER = ["low", "normal", "high"]


class _RenderFailed(Exception):
    """The message of an alert could not be rendered (its cause says why)."""


class Dispatch:
    config: Config
    store: Store
    notifier: Notifier
    metrics: Metrics
    clock: Callable[[], float]
    stopping: bool
    _sent_at: dict[str, list[float]]

    async def deliver_due(self) -> tuple[int, int]:
        """Send every due alert; channels in parallel, one message at a time within a channel.
        Returns (alerts sent, alerts failed)."""
        self._demote_merged()
        expired = self.store.expire(self.clock())
        if expired:
            log.warning("%d alert(s) dead-lettered: past notify.max_age before they could be "
                        "sent", len(expired))
        due = self.store.due_alerts(self.clock())
        by_channel: dict[str, list[QueuedAlert]] = {}
        for alert in due:
            by_channel.setdefault(alert.channel, []).append(alert)
        results = await asyncio.gather(*(self._deliver_channel(name, queued)
                                         for name, queued in by_channel.items()))
        return sum(r[0] for r in results), sum(r[1] for r in results)

    def _demote_merged(self) -> None:
        """Headlines of stories that a later article merged into a story with a headline on
        the same channel become follow-ups before they are sent: stories found apart in one
        burst of articles (`monitor once`, a first poll) and bridged by a later one alert once."""
        mode = self.config.dedup.followups
        for alert_id, item_id, payload in self.store.merged_headlines():
            if mode == "off":
                self.store.drop(alert_id)
                continue
            title, body = alerts.demoted(payload)
            self.store.demote(alert_id, item_id, title, body,
                              alerts.followup_hold(self.clock(), mode))

    async def _deliver_channel(self, name: str, queued: list[QueuedAlert]) -> tuple[int, int]:
        channel = self.notifier.channel(name)
        now = self.clock()
        sends, holds = delivery.plan(queued, channel, now, self.config.notify.zone,
                                     self._sent_in_window(name, channel, now))
        for hold in holds:
            self.store.hold(hold.ids, hold.until, self.config.notify.max_age)
        sent = failed = 0
        for send in sends:
            if self.stopping:
                break
            ids = [alert.id for alert in send.alerts]
            try:
                errors = await self._send_to_targets(name, send)
            except _RenderFailed as failure:  # this alert's fault alone: the others still go out
                cause = failure.__cause__
                reason = f"cannot render: {type(cause).__name__}: {cause}"
                self.store.mark_failed(ids, error=reason, retry_at=None)
                self.metrics.alerts.labels(name, "dead").inc(len(ids))
                log.error("%d alert(s) to %r dead-lettered: %s", len(ids), name, reason)
                failed += len(ids)
                continue
            now = self.clock()
            if channel is not None and channel.rate_limit:  # counted only where it limits
                self._sent_at.setdefault(name, []).append(now)
            if not errors:
                self.store.mark_sent(ids, now)
                self.metrics.alerts.labels(name, "sent").inc(len(ids))
                sent += len(ids)
                continue
            failed += len(ids)
            reasons = "; ".join(errors)
            for alert in send.alerts:  # each alert's own age: a digest mixes old and new
                retry_at = schedule.alert_retry_at(
                    now, alert.attempts + 1, max_delay=self.config.notify.max_retry_delay)
                expired = retry_at >= alert.expires_at  # no retry in time: dead now
                self.store.mark_failed([alert.id], error=reasons,
                                       retry_at=None if expired else retry_at)
                self.metrics.alerts.labels(name, "dead" if expired else "failed").inc()
            log.warning("%d alert(s) to %r failed: %s", len(ids), name, reasons)
        return sent, failed

    async def _send_to_targets(self, name: str, send: delivery.Send) -> list[str]:
        """Send to each target of the channel what it does not have yet; each success is
        recorded at once, so a retry after a partial failure goes only where it failed.
        Returns the failures, as `target: reason`."""
        delivered = self.store.delivered([alert.id for alert in send.alerts])
        priority = max((a.priority for a in send.alerts), key=_PRIORITY_ORDER.index)
        errors = []
        for target in self.notifier.targets(name):
            missing = tuple(a for a in send.alerts if target.key not in delivered[a.id])
            if not missing:
                continue
            try:
                title, body, fmt = self._render(name, replace(send, alerts=missing))
            except Exception as error:  # a template can raise anything
                raise _RenderFailed from error
            result = await asyncio.to_thread(self.notifier.send_to, name, target, title, body,
                                             fmt, priority)
            if result.ok:
                self.store.record_delivery([a.id for a in missing], target.key, self.clock())
            else:
                errors.append(f"{target.shown}: {result.error or 'failed'}")
        return errors

    def _render(self, channel: str, send: delivery.Send) -> tuple[str, str, str]:
        fmt = self.notifier.format_of(channel)
        payloads = [alert.payload for alert in send.alerts]
        if send.digest and len(payloads) > 1:
            title, body = templates.render_digest(payloads, fmt)
            return title, body, fmt
        payload = payloads[0]
        template = payload.get("template") or self.notifier.template_of(channel)
        return payload["title"], templates.render(payload, fmt, template), fmt

    def _sent_in_window(self, name: str, channel: ChannelConfig | None, now: float) -> int:
        """Messages sent on this channel within its rate-limit window (kept in memory)."""
        if channel is None or not channel.rate_limit:
            return 0
        _, window = rate(channel.rate_limit)
        recent = [t for t in self._sent_at.get(name, []) if t > now - window]
        self._sent_at[name] = recent
        return len(recent)
