"""Which due alerts of a channel go out now, and how: one message each, or gathered in a digest;
and which wait (digest time, quiet hours, rate limit). Pure: time and counts come in as values.

- A digest channel holds each new alert until its next digest time, then sends them as one message.
- During quiet hours, alerts wait for the end of the window and go out as one digest; high-priority
  alerts pass.
- Past the rate limit (messages per window), the excess waits for the next window as one digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.channels import ChannelConfig, in_quiet, next_digest, quiet_end, rate
from monitor.outbox import QueuedAlert


@dataclass(frozen=True, slots=True)
class Send:
    alerts: tuple[QueuedAlert, ...]
    digest: bool  # several alerts (or one that waited for a digest) in one message


@dataclass(frozen=True, slots=True)
class Hold:
    ids: tuple[int, ...]
    until: float


def plan(due: Sequence[QueuedAlert], channel: ChannelConfig | None, now: float, zone: ZoneInfo,
         sent_in_window: int = 0) -> tuple[list[Send], list[Hold]]:
    """`sent_in_window`: messages sent on this channel within its rate-limit window until now."""
    fresh = [alert for alert in due if not alert.batch]
    batched = [alert for alert in due if alert.batch]
    holds: list[Hold] = []
    if channel and channel.digest and fresh:
        holds.append(Hold(_ids(fresh), next_digest(now, channel.digest, zone)))
        fresh = []
    if channel and channel.quiet and in_quiet(now, channel.quiet, zone):
        waiting = [alert for alert in fresh if alert.priority != "high"] + batched
        if waiting:
            holds.append(Hold(_ids(waiting), quiet_end(now, channel.quiet, zone)))
        fresh = [alert for alert in fresh if alert.priority == "high"]
        batched = []
    sends = ([Send(tuple(batched), True)] if batched else []) + \
        [Send((alert,), False) for alert in fresh]
    if channel and channel.rate_limit and sends:
        limit, window = rate(channel.rate_limit)
        budget = max(0, limit - sent_in_window)
        if len(sends) > budget:
            excess = [alert for send in sends[budget:] for alert in send.alerts]
            holds.append(Hold(_ids(excess), now + window))
            sends = sends[:budget]
    return sends, holds


def _ids(alerts: Sequence[QueuedAlert]) -> tuple[int, ...]:
    return tuple(alert.id for alert in alerts)
