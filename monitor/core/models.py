"""Plain values that flow between the pipeline's stages.

They are frozen so that a stage can never change what an earlier stage produced, and picklable so
CPU-bound stages can run in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, NotRequired, TypedDict

Priority = Literal["low", "normal", "high"]


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
    digests: bytes = b""  # its items' (seen_items.py), when it can be cut into them cleanly
    known: int = 0  # items seen last time, byte for byte, not parsed again (not in `entries`)
    furniture: frozenset[str] = frozenset()  # digests of its summaries that are no item's own


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
    shared: tuple[str, ...] = ()  # the terms it shares with the article it joined (`similar-words`)


class RulePayload(TypedDict):
    rule: str
    description: str
    priority: str
    terms: list[str]


class AlertPayload(TypedDict):
    """What an alert's message says, kept in the outbox as JSON and rendered when sent, in its
    channel's format; built by `alerts.payload_of` only."""

    title: str
    url: str | None
    outlet: str
    published: str  # local time, as messages show it
    rule: str  # every rule named, comma-separated, the leading one first
    description: str
    priority: str
    terms: list[str]
    rules: list[RulePayload]
    excerpt: list[tuple[str, bool]]  # (text, is a hit) segments
    template: NotRequired[str]  # the leading rule's own template


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert for one channel; the store queues at most one per story × rule × channel.
    `payload` holds what its message says; it is rendered when sent, for the channel's format."""

    rule: str
    channel: str
    title: str
    payload: AlertPayload
    priority: str = "normal"
    kind: str = "alert"  # or "followup": another outlet joined a story that already alerted
    outlet: str = ""  # for a follow-up, the outlet it announces (one follow-up per outlet)
    hold_until: float | None = None  # wait for a digest until then
    subject: str | None = None  # what makes it one of a kind in its story × channel (default:
    # none for a headline, the item for a follow-up; `spread:<watch>` for a story spreading)


@dataclass(frozen=True, slots=True)
class FeedState:
    url: str  # the configured address, the feed's identity
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check: float
    failures: int
    last_error: str | None
    last_success: float | None
    fetch_url: str  # where it is fetched from: the configured URL, or where it moved for good
    last_attempt: float | None = None
    last_new_item: float | None = None
    stale_since: float | None = None
    added_at: float | None = None
    warning: str | None = None  # its last parsed document was malformed, yet entries were read


@dataclass(frozen=True, slots=True)
class PendingItem:
    id: int
    entry: Entry
    outlet: str
    seen_at: float
    old: bool = False  # listed by its feed's first poll, from before poll.backfill: no alert


@dataclass(frozen=True, slots=True)
class RetryItem:
    """An item completed from its summary, whose page is to be fetched again."""

    item: PendingItem
    story_id: int
    matched: tuple[str, ...]  # the rules its summary matched
    tries: int


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    """An alert waiting in the outbox. `batch`: it goes out in a digest (digest channel, quiet
    hours, or over the rate limit)."""

    id: int
    channel: str
    rule: str
    priority: str
    title: str
    payload: AlertPayload
    batch: bool
    attempts: int
    expires_at: float
    story_id: int = 0


def feed_status(enabled: bool, state: FeedState | None) -> str:
    """What `monitor feeds` and the console say of a feed, in the order worth attention."""
    if state is None:
        return "never polled"
    if not enabled:
        return "disabled"
    if state.failures:
        return "FAILING"
    return "silent" if state.stale_since else "malformed" if state.warning else "ok"


class Muted(NamedTuple):
    """A story muted (or unmuted) by a user."""

    story_id: int  # the live story: the one asked for, or the story it was merged into since
    alerts: int  # its alerts not yet sent, muted with it
