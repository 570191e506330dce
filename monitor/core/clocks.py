"""The pure arithmetic of a channel's clocks: quiet hours, digest times and rate limits, all in
the channel's time zone. The settings come from `monitor.config.channels`; this module reads
them through the small protocols below, so the deciders need no configuration classes."""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class DigestTimes(Protocol):
    """A digest: every so many seconds, or once a day at a time of day."""

    @property
    def every(self) -> float | None: ...
    @property
    def at(self) -> str | None: ...


class ChannelTiming(Protocol):
    """What the delivery decision reads of a channel."""

    @property
    def digest(self) -> DigestTimes | None: ...
    @property
    def quiet(self) -> str | None: ...
    @property
    def rate_limit(self) -> str | None: ...


_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$")
_RATE_SECONDS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def clock(value: str) -> time:
    found = _CLOCK.match(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a time of day such as 08:00")
    return time(int(found.group(1)), int(found.group(2)))


def quiet_window(text: str) -> tuple[time, time]:
    start, sep, end = text.partition("-")
    try:
        if sep:
            return clock(start), clock(end)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a window such as 22:00-07:00")


def rate(text: str) -> tuple[int, float]:
    """`10/min` → (10 messages, 60 seconds)."""
    found = _RATE.match(text)
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"{text!r} is not a rate such as 10/min")
    return int(found.group(1)), float(_RATE_SECONDS[found.group(2)])


def _local(now: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(now, zone)


def in_quiet(now: float, window: str, zone: ZoneInfo) -> bool:
    start, end = quiet_window(window)
    moment = _local(now, zone).time()
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # across midnight


def quiet_end(now: float, window: str, zone: ZoneInfo) -> float:
    """The next end of the quiet window after `now`, as a timestamp."""
    _, end = quiet_window(window)
    return _next_clock(now, end, zone)


def next_digest(now: float, digest: DigestTimes, zone: ZoneInfo) -> float:
    """When the digest that an alert arriving at `now` goes out."""
    if digest.at is not None:
        return _next_clock(now, clock(digest.at), zone)
    assert digest.every is not None
    midnight = _local(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    since = now - midnight.timestamp()
    return midnight.timestamp() + math.floor(since / digest.every + 1) * digest.every


def _next_clock(now: float, at: time, zone: ZoneInfo) -> float:
    local = _local(now, zone)
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate.timestamp() <= now:
        candidate = (local + timedelta(days=1)).replace(hour=at.hour, minute=at.minute,
                                                        second=0, microsecond=0)
    return candidate.timestamp()
