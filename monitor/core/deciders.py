"""What to do, decided from plain facts, never how. Each decider takes what a runner read (a
feed's answer, what the store and the story index know of an article's candidate stories, a
channel's due alerts) and returns intents the runner applies through its storage. No I/O and no
clock: `now` comes in as a fact, so each decision is tested with values alone. (The shape follows
lemon24/reader's update decider.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.core import alerts, backfill, evergreen, schedule, spread
from monitor.core.clocks import ChannelTiming, in_quiet, next_digest, quiet_end, rate
from monitor.core.dedup import Fingerprint
from monitor.core.models import (
    Alert,
    AlertPayload,
    Article,
    FeedState,
    Match,
    ParsedFeed,
    Priority,
    QueuedAlert,
    StoryAssignment,
)

RETRY_AFTER_CAP = 24 * 3600.0  # a server's Retry-After is obeyed up to a day

# -- polling ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollPolicy:
    interval: float
    max_backoff: float
    backfill: float | None  # see backfill.old_entries


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    """What a feed's server answered and, when its document was read, what it held."""

    etag: str | None
    last_modified: str | None
    not_modified: bool = False  # a 304
    body_hash: str | None = None
    parsed: ParsedFeed | None = None  # None: a 304 or the same bytes as last time, not parsed
    fresh_for: float | None = None  # Cache-Control max-age
    moved_to: str | None = None  # a permanent redirect


@dataclass(frozen=True, slots=True)
class FeedFailure:
    error: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RecordSuccess:
    status: str  # "new", "malformed" (entries read in spite of errors), "not-modified", "unchanged"
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check: float
    parsed: ParsedFeed | None = None
    old: frozenset[int] = frozenset()  # indexes of entries listed as old news by a first poll
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.parsed is None


@dataclass(frozen=True, slots=True)
class RecordFailure:
    error: str
    next_check: float
    failures: int  # in a row, this one included


def needs_parsing(state: FeedState, not_modified: bool, body_hash: str | None) -> bool:
    """Only new bytes are parsed: a 304 or the same body as last time says nothing new."""
    return not not_modified and body_hash != state.body_hash


def decide_poll(state: FeedState, answer: FeedAnswer | FeedFailure, now: float,
                policy: PollPolicy) -> RecordSuccess | RecordFailure:
    """A failure backs off, and never comes back before the server's Retry-After (429, 503);
    a success waits at least as long as the server said its answer stays fresh, within
    `max_backoff`. A feed's first poll marks the old news it lists, which raises no alert."""
    if isinstance(answer, FeedAnswer) and answer.parsed and answer.parsed.error:
        answer = FeedFailure(answer.parsed.error)
    if isinstance(answer, FeedFailure):
        failures = state.failures + 1
        next_check = schedule.next_check(now, policy.interval, failures, policy.max_backoff)
        if answer.retry_after:
            next_check = max(next_check, now + min(answer.retry_after, RETRY_AFTER_CAP))
        return RecordFailure(answer.error, next_check, failures)
    next_check = schedule.next_check(now, policy.interval, 0, policy.max_backoff)
    if answer.fresh_for:
        next_check = max(next_check, now + min(answer.fresh_for, policy.max_backoff))
    etag = answer.etag or (state.etag if answer.not_modified else None)
    modified = answer.last_modified or (state.last_modified if answer.not_modified else None)
    parsed = answer.parsed
    if parsed is None:
        return RecordSuccess("not-modified" if answer.not_modified else "unchanged", etag,
                             modified, state.body_hash if answer.not_modified
                             else answer.body_hash, next_check, moved_to=answer.moved_to)
    old = frozenset[int]()
    if state.last_success is None:  # its first poll: what it lists is not all news
        old = backfill.old_entries(parsed.entries, now, policy.backfill)
    return RecordSuccess("malformed" if parsed.warning else "new", etag, modified,
                         answer.body_hash, next_check, parsed, old, answer.moved_to)


# -- items ------------------------------------------------------------------------------------

Alerted = Mapping[str, tuple[str, str]]  # channel → (rules, priority) of a story's headlines


@dataclass(frozen=True, slots=True)
class ItemPolicy:
    priority_channels: Mapping[Priority, Sequence[str]]  # notify.priority
    followups: str  # dedup.followups: digest, message, off
    zone: ZoneInfo
    watches: tuple[spread.Watch, ...] = ()  # rules' `spread:` and notify.trending


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What the store and the story index know of an article's candidate stories."""

    same_url: int | None  # the story of another item the page says it is (canonical URL)
    indexed: StoryAssignment | None  # what the story index finds (asked when same_url is None)
    related: int | None = None  # for a live page or a bulletin: the story it speaks of
    alerted: Mapping[int, Alerted] | None = None  # story → its headlines, per candidate
    outlets: Mapping[int, frozenset[str]] | None = None  # story → the outlets of its articles
    muted: frozenset[int] = frozenset()  # the candidate stories a user muted
    members: Mapping[int, Sequence[spread.Member]] | None = None  # story → its articles (asked
    # only when a watch wants to know a story's spread)


@dataclass(frozen=True, slots=True)
class ItemDecision:
    assignment: StoryAssignment
    alerts: tuple[Alert, ...]


def candidate_stories(facts: StoryFacts) -> tuple[int, ...]:
    """The stories whose headlines and outlets `decide_item` needs to know."""
    assignment = _assignment(facts)
    found = [assignment.story_id if assignment.story_id is not None else facts.related,
             *assignment.merged]
    return tuple(story for story in dict.fromkeys(found) if story is not None)


def decide_item(article: Article, fingerprint: Fingerprint, matches: Sequence[Match], *,
                old: bool, facts: StoryFacts, now: float, policy: ItemPolicy) -> ItemDecision:
    """A story alerts once per channel, naming every rule that matched; its later articles are
    follow-ups on the channels it alerted on, and so are live pages and bulletins about it
    (they stay out of its story). A dossier page, old news listed by a feed's first poll, and
    an article of a story a user muted (or of one it merges) raise nothing."""
    assignment = _assignment(facts)
    story = assignment.story_id
    if story is None and fingerprint.kind in (evergreen.LIVE, evergreen.BULLETIN):
        story = facts.related
    if facts.muted & {story, *assignment.merged}:
        return ItemDecision(assignment, ())
    planned: list[Alert] = []
    if fingerprint.kind != evergreen.DOSSIER and not old:
        planned = alerts.for_matches(article, matches, policy.priority_channels, policy.zone)
    if story is not None and not old:
        known = facts.alerted or {}
        alerted = dict(known.get(story, {}))
        for merged in assignment.merged:  # the story's own headlines first
            alerted = {**known.get(merged, {}), **alerted}
        planned = [alert for alert in planned if alert.channel not in alerted]
        new_outlet = article.outlet not in (facts.outlets or {}).get(story, frozenset())
        planned += alerts.followups(article, alerted, now, policy.followups, new_outlet,
                                    policy.zone)
    if policy.watches and assignment.story_id is not None and not old:
        articles = facts.members or {}
        members = [member for joined in (assignment.story_id, *assignment.merged)
                   for member in articles.get(joined, ())]
        members.append(spread.Member(
            article.outlet, spread.site(article.canonical_url or article.url),
            _published(article, now), tuple(match.rule for match in matches)))
        planned += spread.alerts(article.title, article.url, members, policy.watches)
    return ItemDecision(assignment, tuple(planned))


def _published(article: Article, now: float) -> float:
    """When it was published, as the spread of a story counts: now for a date unknown or to
    come."""
    return min(article.published.timestamp(), now) if article.published else now


def decide_refresh(article: Article, new_matches: Sequence[Match], *, old: bool,
                   alerted: Alerted, policy: ItemPolicy, muted: bool = False) -> tuple[Alert, ...]:
    """A page fetched at last, after its item was completed from the summary: a rule that
    matches the full text but not the summary alerts on the channels its story has not,
    unless a user muted the story."""
    if not new_matches or old or muted:
        return ()
    return tuple(alert for alert in alerts.for_matches(article, new_matches,
                                                       policy.priority_channels, policy.zone)
                 if alert.channel not in alerted)


def _assignment(facts: StoryFacts) -> StoryAssignment:
    if facts.same_url is not None:
        return StoryAssignment(facts.same_url, "same-url", 1.0)
    return facts.indexed or StoryAssignment(None, "new")


# -- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    alerts: tuple[QueuedAlert, ...]
    digest: bool  # several alerts (or one that waited for a digest) in one message


@dataclass(frozen=True, slots=True)
class Hold:
    ids: tuple[int, ...]
    until: float


@dataclass(frozen=True, slots=True)
class Demote:
    """A headline whose story was merged, before it went out, into one with a headline on the
    same channel: it becomes a follow-up (or is dropped when follow-ups are off)."""

    alert_id: int
    item_id: int | None
    title: str = ""
    payload: AlertPayload | None = None  # None: dropped
    hold_until: float | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    alert_id: int
    at: float | None  # None: no retry in time, dead now


def decide_delivery(due: Sequence[QueuedAlert], channel: ChannelTiming | None, now: float,
                    zone: ZoneInfo, sent_in_window: int = 0) -> tuple[list[Send], list[Hold]]:
    """Which due alerts of a channel go out now, and how, and which wait:
    - a digest channel holds each new alert until its next digest time, then sends them as one;
    - during quiet hours, alerts wait for the end of the window and go out as one digest;
      high-priority alerts pass;
    - past the rate limit (`sent_in_window` messages already sent in its window), the excess
      waits for the next window as one digest."""
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


def decide_failure(send: Send, now: float, max_delay: float) -> list[Retry]:
    """A send that failed: each alert retried after its own back-off (a digest mixes old and
    new), or dead when no retry comes before it expires."""
    retries = []
    for alert in send.alerts:
        at = schedule.alert_retry_at(now, alert.attempts + 1, max_delay=max_delay)
        retries.append(Retry(alert.id, None if at >= alert.expires_at else at))
    return retries


def decide_merged(headlines: Sequence[tuple[int, int | None, AlertPayload]], now: float,
                  followups: str) -> list[Demote]:
    """Headlines of stories a later article merged into a story with a headline on the same
    channel: stories found apart in one burst (`monitor once`, a first poll) and bridged by a
    later article alert once."""
    if followups == "off":
        return [Demote(alert_id, item_id) for alert_id, item_id, _ in headlines]
    hold = alerts.followup_hold(now, followups)
    out = []
    for alert_id, item_id, payload in headlines:
        title, body = alerts.demoted(payload)
        out.append(Demote(alert_id, item_id, title, body, hold))
    return out


def _ids(queued: Sequence[QueuedAlert]) -> tuple[int, ...]:
    return tuple(alert.id for alert in queued)
