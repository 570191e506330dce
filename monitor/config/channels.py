"""Notification channels as configured (their clocks' arithmetic is `monitor.core.clocks`).

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

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.core.clocks import clock, quiet_window, rate
from monitor.core.units import parse_duration


class Digest(BaseModel):
    """Batch a channel's alerts into one message `every` so often, or once a day `at` a time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    every: float | None = None
    at: str | None = None
    briefing: bool = False  # told story by story (headline, outlets, growth, rules), not by rule

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:

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
