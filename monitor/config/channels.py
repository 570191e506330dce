"""Notification channels as configured, and the pure arithmetic of their clocks: quiet hours,
digest times and rate limits, all in the channel's time zone.

```yaml
notify:
  channels:
    ops: json://hooks.example.org/monitor          # one Apprise URL
    slack:                                          # or a mapping
      urls: [slack://T…/B…/X…/#veille]
      format: markdown                              # markdown, html or text (default: by service)
      template: templates/slack.j2                  # a Jinja2 file or inline text
      quiet: "22:00-07:00"                          # held, then sent as one digest (high priority passes)
      rate_limit: 10/min                            # the excess is folded into one digest
    matin:
      config: /etc/apprise/apprise.yml              # an Apprise config file (YAML or TEXT)…
      tag: veille                                   # …and the tag of its URLs to use
      digest: {at: "08:00"}                         # or {every: 1h}
```
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$")
_RATE_SECONDS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def clock(value: str) -> time:
    found = _CLOCK.match(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a time of day such as 08:00")
    return time(int(found.group(1)), int(found.group(2)))


class Digest(BaseModel):
    """Batch a channel's alerts into one message `every` so often, or once a day `at` a time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    every: float | None = None
    at: str | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        from monitor.config.config import parse_duration

        return parse_duration(value) if value is not None else None

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            clock(value)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Digest:
        if (self.every is None) == (self.at is None):
            raise ValueError("give either 'every' (such as 1h) or 'at' (such as 08:00)")
        return self


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(default_factory=list)
    config: Path | None = None  # an Apprise config file, relative to config.yaml
    tag: str | None = None
    format: Literal["markdown", "html", "text"] | None = None
    template: str | None = None  # Jinja2 source, or the path of a .j2 / .jinja file
    digest: Digest | None = None
    quiet: str | None = None
    rate_limit: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"urls": [value]}
        if isinstance(value, list):
            return {"urls": value}
        if isinstance(value, dict) and isinstance(value.get("urls"), str):
            return {**value, "urls": [value["urls"]]}
        return value

    @field_validator("quiet")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            quiet_window(value)
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            rate(value)
        return value

    @model_validator(mode="after")
    def _some_target(self) -> ChannelConfig:
        if not self.urls and self.config is None:
            raise ValueError("give 'urls' or an Apprise 'config' file")
        if self.tag and self.config is None:
            raise ValueError("'tag' selects URLs of an Apprise 'config' file")
        return self


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


def next_digest(now: float, digest: Digest, zone: ZoneInfo) -> float:
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
