"""The web console's read queries (and its one write, retrying a dead alert, is the outbox's
`requeue`). Part of `Store`: the SQL stays with the store; this module keeps it readable.

Every query here is bounded (a period, a LIMIT, an indexed key) so that a page stays fast on a
database of 100,000 articles: `bench/console.py` measures it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.core.spread import SUBJECT
from monitor.core.text import title_words
from monitor.store.database import Database
from monitor.store.items import live_story_id, news_time
from monitor.store.outbox import STATES, state_sql


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item as the console lists it (a feed's latest, a story's members)."""

    id: int
    feed_url: str
    outlet: str
    title: str
    link: str | None
    published: float | None
    seen_at: float
    state: str  # new (not completed yet) or done
    source: str | None  # page, feed (its summary), or None while new
    rules: tuple[str, ...]
    story_id: int | None
    story_title: str | None
    joined_by: str | None  # the signal that put it in its story
    evidence: str | None  # what it shares with its story, as written (`dedup.evidence`)
    score: float | None
    old: bool

    @property
    def news_time(self) -> float:
        """As `items.news_time` reads it."""
        published = self.published
        return published if published is not None and published <= self.seen_at else self.seen_at


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: int
    title: str
    first_seen: float
    last_seen: float
    articles: int
    outlets: tuple[str, ...]
    rules: tuple[str, ...]
    muted: bool = False  # a user muted it: it raises no alert
    times: tuple[float, ...] = ()  # each article's news time (`items.news_time`), in story order


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert of the outbox with what the console shows beside it."""

    id: int
    story_id: int | None
    story_title: str | None
    rule: str
    channel: str
    kind: str  # alert, followup, or spread (a follow-up saying the story spreads)
    title: str
    status: str  # as stored: pending, sent, dead
    state: str  # as shown: pending, held, failed, sent, dead (see outbox.state_sql)
    attempts: int
    next_attempt: float
    created_at: float
    delivered_at: float | None
    last_error: str | None


# how the Sujets list sorts (each descending), over the period's articles (those the filters
# keep): the first one's news time, how many, how many outlets
ORDERS = {"recent": f"min({news_time('i.')})", "taille": "count(*)",
          "etendue": "count(DISTINCT i.outlet)"}

_ITEM_COLUMNS = (
    "i.id, i.feed_url, coalesce(i.outlet, f.name, i.feed_url) AS outlet, i.title, "
    "coalesce(i.canonical_url, i.link) AS link, i.published, i.seen_at, i.state, i.source, "
    "i.matched_rules, i.story_id, s.title AS story_title, i.story_reason, i.story_evidence, "
    "i.story_score, i.old")
_ITEM_JOINS = ("FROM items i LEFT JOIN feeds f ON f.url = i.feed_url "
               "LEFT JOIN stories s ON s.id = i.story_id")


def _rules(raw: str | None) -> tuple[str, ...]:
    return tuple(json.loads(raw)) if raw else ()


def _item(row: Any) -> ItemRow:
    return ItemRow(row["id"], row["feed_url"], row["outlet"], row["title"], row["link"],
                   row["published"], row["seen_at"], row["state"], row["source"],
                   _rules(row["matched_rules"]), row["story_id"], row["story_title"],
                   row["story_reason"], row["story_evidence"], row["story_score"],
                   bool(row["old"]))


class ConsoleQueries:
    """The console's reads, over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def feed_ids(self) -> dict[str, int]:
        """feed URL → its number in the console's addresses (the row's id: stable)."""
        return {row[1]: row[0] for row in self._db.execute("SELECT rowid, url FROM feeds")}

    def feed_counters(self) -> dict[str, tuple[int, int]]:
        """feed URL → (successful polls, of which nothing had changed: 304 or the same bytes)."""
        return {row[0]: (row[1], row[2]) for row in self._db.execute(
            "SELECT url, polls, not_modified FROM feeds")}

    def feed_days(self, since_day: int) -> dict[str, dict[int, tuple[int, int]]]:
        """feed URL → day → (polls, failures), from `since_day` on."""
        found: dict[str, dict[int, tuple[int, int]]] = {}
        for url, day, polls, failures in self._db.execute(
                "SELECT feed_url, day, polls, failures FROM feed_days WHERE day >= ?",
                (since_day,)):
            found.setdefault(url, {})[day] = (polls, failures)
        return found

    def feed_items(self, feed_url: str, limit: int = 100) -> list[ItemRow]:
        """A feed's latest items, newest first."""
        return [_item(row) for row in self._db.execute(
            f"SELECT {_ITEM_COLUMNS} {_ITEM_JOINS} WHERE i.feed_url = ? "
            "ORDER BY i.seen_at DESC, i.id DESC LIMIT ?", (feed_url, limit))]

    def story(self, story_id: int) -> tuple[StoryRow, list[ItemRow]] | None:
        """A story (followed to the story it was merged into) and its articles, oldest first."""
        story = self.live_story(story_id)
        return (story, self.story_items(story.id)) if story is not None else None

    def live_story(self, story_id: int) -> StoryRow | None:
        """A story, followed to the story it was merged into."""
        live = live_story_id(self._db, story_id)
        return self.stories_by_id([live])[0] if live is not None else None

    def story_items(self, story_id: int) -> list[ItemRow]:
        """A (live) story's articles, oldest first."""
        return [_item(item) for item in self._db.execute(
            f"SELECT {_ITEM_COLUMNS} {_ITEM_JOINS} WHERE i.story_id = ? "
            "ORDER BY coalesce(i.processed_at, i.seen_at), i.id", (story_id,))]

    def stories_by_id(self, ids: Sequence[int]) -> list[StoryRow]:
        out = []
        for story_id in ids:
            story = self._db.execute("SELECT * FROM stories WHERE id = ?", (story_id,)).fetchone()
            if story is None:
                continue
            members = self._db.execute(
                f"SELECT outlet, matched_rules, {news_time()} FROM items WHERE story_id = ? "
                "ORDER BY processed_at", (story_id,)).fetchall()
            out.append(_story(story, members))
        return out

    def recent_stories(self, *, since: float, rule: str | None = None, outlet: str | None = None,
                       words: str = "", limit: int = 100, order: str = "recent") -> list[StoryRow]:
        """Stories with articles completed since `since`, in `order` (`ORDERS`, counted over those
        articles: by the first one's news time, latest first, by default); only those with an
        article matching `rule`, from `outlet`, or whose articles' titles hold every word of
        `words` (folded: case, accents and elisions do not matter)."""
        args: list[float | str]
        where, args = ["i.story_id IS NOT NULL", "i.processed_at >= ?"], [since]
        if rule:
            where.append("i.matched_rules LIKE ?")
            args.append(f'%{json.dumps(rule, ensure_ascii=False)}%')
        if outlet:
            where.append("i.outlet = ?")
            args.append(outlet)
        wanted = title_words(words).split()
        where.extend("i.title_words LIKE ?" for _ in wanted)
        args.extend(f"% {word} %" for word in wanted)
        story_ids = [row[0] for row in self._db.execute(
            # the period's items read by their completion time first (materialised: grouped
            # at once by story, SQLite walked every item of the story index instead)
            "WITH i AS MATERIALIZED (SELECT i.story_id, i.outlet, i.published, i.seen_at "
            f"FROM items i WHERE {' AND '.join(where)}) "
            "SELECT i.story_id FROM i JOIN stories s ON s.id = i.story_id "
            "WHERE s.merged_into IS NULL GROUP BY i.story_id "
            f"ORDER BY {ORDERS[order]} DESC, i.story_id DESC LIMIT ?", (*args, limit))]
        return self.stories_by_id(story_ids)

    def outlets(self, since: float) -> list[str]:
        return [row[0] for row in self._db.execute(
            "SELECT DISTINCT outlet FROM items WHERE story_id IS NOT NULL AND processed_at >= ? "
            "AND outlet IS NOT NULL ORDER BY outlet", (since,))]

    def alert_rows(self, *, now: float, state: str | None = None, story_id: int | None = None,
                   limit: int = 200) -> list[AlertRow]:
        """The outbox, newest first: all of it, one state, or one story's alerts."""
        args: list[str | int | float]
        where, args = "1 = 1", []
        if state:
            where, args = f"{state_sql('a')} = ?", [now, state]
        if story_id is not None:
            where += " AND a.story_id IN (SELECT id FROM stories WHERE id = ? OR merged_into = ?)"
            args += [story_id, story_id]
        rows = self._db.execute(
            f"SELECT a.*, {state_sql('a')} AS state, s.title AS story_title FROM alerts a "
            f"LEFT JOIN stories s ON s.id = a.story_id WHERE {where} ORDER BY a.id DESC LIMIT ?",
            (now, *args, limit)).fetchall()
        return [AlertRow(row["id"], row["story_id"], row["story_title"], row["rule"],
                         row["channel"], _kind(row["kind"], row["subject"]), row["title"],
                         row["status"], row["state"],
                         row["attempts"], row["next_attempt"], row["created_at"],
                         row["delivered_at"], row["last_error"])
                for row in rows]

    def alert_counts(self, now: float) -> dict[str, int]:
        """How many alerts are in each state, in the order of `STATES`."""
        found = dict(self._db.execute(
            f"SELECT state, COUNT(*) FROM (SELECT {state_sql()} AS state FROM alerts) AS found "
            "GROUP BY state", (now,)).fetchall())
        return {state: found[state] for state in STATES if state in found}

    def rule_matches(self, since: float) -> list[tuple[float, tuple[str, ...]]]:
        """(when completed, rules matched) of every item that matched a rule since `since`."""
        return [(row[0], _rules(row[1])) for row in self._db.execute(
            "SELECT processed_at, matched_rules FROM items WHERE matched_rules != '[]' "
            "AND processed_at >= ?", (since,))]

    def last_matches(self, rules: Sequence[str]) -> dict[str, float]:
        """rule → when it last matched an item, at any time (for rules quiet this week)."""
        found: dict[str, float] = {}
        for rule in rules:
            row = self._db.execute(
                "SELECT max(processed_at) FROM items WHERE matched_rules != '[]' "
                "AND matched_rules LIKE ?", (f'%{json.dumps(rule, ensure_ascii=False)}%',)
            ).fetchone()
            if row[0] is not None:
                found[rule] = row[0]
        return found


def _kind(kind: str, subject: str) -> str:
    return "spread" if subject.startswith(SUBJECT) else kind


def _story(story: Any, members: Sequence[Any]) -> StoryRow:
    outlets = tuple(dict.fromkeys(member[0] for member in members if member[0]))
    rules = tuple(dict.fromkeys(rule for member in members for rule in _rules(member[1])))
    return StoryRow(story["id"], story["title"], story["first_seen"], story["last_seen"],
                    len(members), outlets, rules, story["muted_at"] is not None,
                    tuple(member[2] for member in members))
