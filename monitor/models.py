"""Plain values that flow between the pipeline's stages.

They are frozen so that a stage can never change what an earlier stage produced, and picklable so
CPU-bound stages can run in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.rules import Priority


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, as the feed describes it."""

    feed_url: str
    guid: str | None
    link: str | None  # canonical form: tracking junk removed
    title: str
    summary: str  # plain text
    published: datetime | None  # aware, UTC
    language: str | None = None  # the feed's declared language, e.g. "fr" or "fr-FR"


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a feed's bytes held; `error` is set only when nothing usable came out."""

    title: str
    entries: tuple[Entry, ...]
    warning: str | None = None  # harmless oddities (feedparser's bozo) worth a debug line
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """An entry completed with its page's text, or with the feed's summary when the page failed."""

    url: str | None
    title: str
    summary: str
    text: str
    published: datetime | None
    outlet: str
    source: str  # "page" when the text came from the page, "feed" for the summary fallback
    canonical_url: str | None = None
    author: str | None = None
    language: str | None = None
    feed_url: str = ""
    tags: tuple[str, ...] = ()  # the feed's tags from the config, for rules' `tags:` filter


@dataclass(frozen=True, slots=True)
class Hit:
    """Where one term of a rule was found: field and character offsets in that field's text."""

    term: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched an article, with the hits that explain why."""

    rule: str
    hits: tuple[Hit, ...]
    channels: tuple[str, ...]
    priority: Priority = "normal"
    description: str = ""
    template: str | None = None  # the rule's own Jinja2 template, if it has one


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """Which story an article belongs to, and why (for humans reading the database)."""

    story_id: int | None  # None: a new story
    reason: str
    score: float = 0.0
    merged: tuple[int, ...] = ()  # other stories the article bridges: merged into `story_id`


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert for one channel; the store queues at most one per story × rule × channel.
    `payload` holds what its message says; it is rendered when sent, for the channel's format."""

    rule: str
    channel: str
    title: str
    payload: dict[str, Any]
    priority: str = "normal"
    kind: str = "alert"  # or "followup": another outlet joined a story that already alerted
    outlet: str = ""  # for a follow-up, the outlet it announces (one follow-up per outlet)
    hold_until: float | None = None  # wait for a digest until then
