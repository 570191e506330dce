"""Feeds' polling state and schedule, and the items each poll brings: the poll runner's role
(`FeedStorage`). An item is known by its keys (`entry_keys`), so the same article listed twice,
or by two feeds, is stored once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.core.feeds import canonical_url, identity
from monitor.core.models import Alert, Entry, FeedState
from monitor.core.text import title_words
from monitor.store.database import Database
from monitor.store.leases import FENCE, Leases, fenced


def entry_keys(entry: Entry) -> list[str]:
    """Identity keys: the same guid, or the same canonical URL (any scheme), is the same item.
    A guid that is a URL counts as one; any other guid is only unique within its feed; an item
    with neither is known by its title within its feed."""
    keys = []
    if entry.link:
        keys.append(url_key(entry.link))
    if entry.guid:
        if entry.guid.startswith(("http://", "https://")):
            keys.append(url_key(canonical_url(entry.guid)))
        else:
            keys.append(f"guid:{entry.feed_url}#{entry.guid}")
    if not keys and entry.title:
        keys.append(f"title:{entry.feed_url}#{entry.title}")
    return list(dict.fromkeys(keys))


def url_key(url: str) -> str:
    return "url:" + identity(url)


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


class Feeds:
    """The queries of feeds and their polls, over one database."""

    def __init__(self, db: Database, leases: Leases) -> None:
        self._db = db
        self._leases = leases

    def sync(self, feeds: Iterable[tuple[str, str, bool]], now: float) -> None:
        """Make the database's feeds the configured ones, each (url, name, enabled): a new feed
        has a row and is due at once; each is numbered within its host (`host_rank`, so that
        claims take one feed per host in turn); a feed no longer configured is polled no more
        (its row, items and stories stay)."""
        ranks: Counter[str] = Counter()
        rows = []
        for url, name, enabled in feeds:
            host = urlsplit(url).netloc
            rows.append((url, name, now, ranks[host], enabled))
            ranks[host] += 1
        with self._db.transaction() as db:
            db.execute("UPDATE feeds SET enabled = 0 WHERE enabled = 1")
            db.executemany(
                "INSERT INTO feeds (url, name, added_at, host_rank, enabled) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET name = excluded.name, "
                "host_rank = excluded.host_rank, enabled = excluded.enabled", rows)

    def get(self, url: str) -> FeedState:
        return _feed(self._db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone())

    def all(self) -> list[FeedState]:
        return [_feed(row) for row in self._db.execute("SELECT * FROM feeds ORDER BY name")]

    def count_polls(self, counts: Sequence[tuple[str, int, int, int]]) -> None:
        """Adds (feed URL, day, polls, failures) to each feed's days (`PollTally`'s), all or
        none: refused rows are counted again later, so a half-written pass would count twice.
        (Outside a transaction each row was a commit of its own on SQLite: 30 µs a feed,
        against 3.5 in one transaction.)"""
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO feed_days (feed_url, day, polls, failures) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (feed_url, day) DO UPDATE SET polls = feed_days.polls + "
                "excluded.polls, failures = feed_days.failures + excluded.failures", counts)

    def items_per_feed(self, since: float) -> dict[str, int]:
        return dict(self._db.execute("SELECT feed_url, COUNT(*) FROM items WHERE seen_at >= ? "
                                     "GROUP BY feed_url", (since,)).fetchall())

    def set_stale(self, url: str, *, stale_since: float | None, now: float, max_age: float,
                  alerts: Sequence[Alert]) -> None:
        """A feed went silent (or spoke again): record it and queue its operational alerts in
        one transaction, so each change is announced exactly once (another instance that saw
        it too finds it recorded, and queues nothing)."""
        with self._db.transaction() as db:
            changed = db.execute(
                "UPDATE feeds SET stale_since = ? WHERE url = ? AND "
                f"stale_since IS {'NULL' if stale_since is not None else 'NOT NULL'}",
                (stale_since, url)).rowcount
            for alert in alerts if changed else ():
                db.execute(
                    "INSERT INTO alerts (rule, channel, priority, title, payload, next_attempt, "
                    "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert.rule, alert.channel, alert.priority, alert.title,
                     json.dumps(alert.payload, ensure_ascii=False), now, now + max_age, now))

    def due(self, now: float, lease: float | None = None, limit: int = 100_000) -> list[str]:
        """The URLs of `claim_due`."""
        return [state.url for state in self.claim_due(now, lease, limit)]

    def claim_due(self, now: float, lease: float | None = None,
                  limit: int = 100_000) -> list[FeedState]:
        """The enabled feeds whose next check has come, most overdue first, one per host in
        turn among those due alike (`feeds_due`: a claim reads about `limit` index entries,
        however many feeds there are); with `lease`, claimed for that long (none another
        instance holds). Their states come with them: a poll needs no query of its own."""
        return [_feed(row) for row in self._leases.claim(
            "feeds", "enabled = 1 AND next_check <= ?", (now,), "next_check, host_rank, url",
            limit, now, lease, rows=True)]

    def record_success(self, url: str, *, now: float, next_check: float, etag: str | None,
                       last_modified: str | None, body_hash: str | None,
                       entries: Sequence[Entry] = (), moved_to: str | None = None,
                       old: Collection[int] = (), not_modified: bool = False,
                       parsed: bool = False, warning: str | None = None,
                       probably_new: bool = False, claimed_due: float | None = None) -> int:
        """A good poll: new validators, failures reset, and its unseen entries stored as `new`
        items in the same transaction (those whose index is in `old` never alert); when its
        document was `parsed`, what was wrong with it (`warning`, None: nothing). Entries
        `probably_new` (a feed's first poll, or what its last parse did not list) are not
        looked up first: one that is known after all is inserted, finds its key taken and is
        deleted again, as in a race (a query fewer per poll, a third of a PostgreSQL
        server's work on a poll of new items). `claimed_due`: the feed's next check when the
        poll claimed it; one changed since (`due_now`, asked by a user meanwhile) is kept if
        sooner (`_next_check`). Returns how
        many entries were new; raises LeaseLost, writing nothing, when another instance claimed
        the feed since this process did. (With no entries, as after a 304, its one statement is atomic
        alone: no transaction, two round trips fewer to a server.)"""
        token = self._leases.token("feeds", url)
        next_sql, next_params = _next_check(next_check, claimed_due)
        with self._db.transaction() if entries else nullcontext(self._db) as db:
            keyed = [(index, entry, entry_keys(entry)) for index, entry in enumerate(entries)]
            known = set() if probably_new else _known_keys(
                db, [key for _, _, keys in keyed for key in keys])
            unseen = []
            for index, entry, keys in keyed:
                if keys and known.isdisjoint(keys):
                    unseen.append((entry, keys, index in old))
                known.update(keys)
            new = sum(_insert_entries(db, unseen[start:start + 200], now)
                      for start in range(0, len(unseen), 200))
            recorded = db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, "
                + next_sql + ", failures = 0, last_error = NULL, "
                "last_attempt = ?, last_success = ?, "
                "fetch_url = COALESCE(?, fetch_url), polls = polls + 1, "
                "not_modified = not_modified + ?, lease_until = NULL, "
                "warning = CASE WHEN ? = 1 THEN ? ELSE warning END, "
                "last_new_item = CASE WHEN ? > 0 THEN ? ELSE last_new_item END WHERE url = ?"
                + FENCE, (etag, last_modified, body_hash, *next_params, now, now, moved_to,
                           not_modified, int(parsed), warning, new, now, url, token))
            fenced(recorded.rowcount, token, f"feed {url}")
        return new

    def reschedule(self, url: str, interval: float) -> None:
        """A new interval: the next poll is the last one plus it (a feed in backoff keeps its
        backoff; one never polled stays due)."""
        self._db.execute("UPDATE feeds SET next_check = last_attempt + ? WHERE url = ? AND "
                         "failures = 0 AND last_attempt IS NOT NULL", (interval, url))

    def due_now(self, url: str, now: float) -> None:
        """Poll it at the next tick, whatever its schedule or backoff (asked by a user)."""
        self._db.execute("UPDATE feeds SET next_check = ? WHERE url = ?", (now, url))

    def record_failure(self, url: str, *, now: float, next_check: float, error: str,
                       claimed_due: float | None = None) -> None:
        """A failed poll (raises LeaseLost, as `record_success` does; `claimed_due` too)."""
        token = self._leases.token("feeds", url)
        next_sql, next_params = _next_check(next_check, claimed_due)
        recorded = self._db.execute(
            "UPDATE feeds SET failures = failures + 1, last_error = ?, last_attempt = ?, "
            + next_sql + ", lease_until = NULL WHERE url = ?" + FENCE,
            (error, now, *next_params, url, token))
        fenced(recorded.rowcount, token, f"feed {url}")


def _next_check(next_check: float, claimed_due: float | None) -> tuple[str, tuple[float, ...]]:
    """The SQL and parameters that set a poll's next check, unless a user asked for one sooner
    while it ran (`due_now` changed it since the claim, at `claimed_due`): that one stays, else
    `monitor feeds poll` during a poll of the same feed was undone by it."""
    if claimed_due is None:
        return "next_check = ?", (next_check,)
    return ("next_check = CASE WHEN next_check = ? THEN ? ELSE least(next_check, ?) END",
            (claimed_due, next_check, next_check))


def _insert_entries(db: Database, unseen: list[tuple[Entry, list[str], bool]],
                    now: float) -> int:
    """Store entries none of whose keys was known, as items (two statements for them all).
    Another instance may be storing the same article from another feed at this moment: then
    one of its keys is taken on insertion (PostgreSQL waits for the other's commit to tell),
    and that item is deleted again, the keys it did take first. Returns the items stored."""
    if not unseen:
        return 0
    source, params = db.rows(
        [(entry.feed_url, entry.guid, entry.link, entry.title, title_words(entry.title),
          entry.summary, _ts(entry.published), now, int(old)) for entry, _, old in unseen],
        ("text",) * 6 + ("double precision",) * 2 + ("bigint",))
    rows = db.execute(
        "INSERT INTO items (feed_url, guid, link, title, title_words, summary, published, "
        f"seen_at, old) {source} RETURNING id, feed_url, guid, link, title", params).fetchall()
    # RETURNING's order is not promised: each row is found by what it was given (entries
    # alike in all of these share their keys, so only one of them is here)
    ids = {tuple(row[1:]): row[0] for row in rows}
    keys_of = {ids[(entry.feed_url, entry.guid, entry.link, entry.title)]: keys
               for entry, keys, _ in unseen}
    pairs = [(key, item_id) for item_id, keys in keys_of.items() for key in keys]
    source, params = db.rows(pairs, ("text", "bigint"))
    inserted = Counter(row[0] for row in db.execute(
        f"INSERT INTO item_keys (key, item_id) {source} ON CONFLICT DO NOTHING RETURNING item_id",
        params))
    taken = [item_id for item_id, keys in keys_of.items() if inserted[item_id] < len(keys)]
    if taken:
        their_keys, key_params = db.any_of("key", [k for i in taken for k in keys_of[i]], "text")
        theirs, id_params = db.any_of("item_id", taken, "bigint")
        db.execute(f"DELETE FROM item_keys WHERE {their_keys} AND {theirs}",
                   [*key_params, *id_params])
        them, id_params = db.any_of("id", taken, "bigint")
        db.execute(f"DELETE FROM items WHERE {them}", id_params)
    return len(keys_of) - len(taken)


def _known_keys(db: Database, keys: list[str]) -> set[str]:
    """Those of `keys` some stored item has (one query per 500, not one per entry)."""
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        where, params = db.any_of("key", keys[start:start + 500], "text")
        known.update(row[0] for row in db.execute(f"SELECT key FROM item_keys WHERE {where}",
                                                  params))
    return known


def _feed(row: Any) -> FeedState:
    return FeedState(row["url"], row["name"], row["etag"], row["last_modified"],
                     row["body_hash"], row["next_check"], row["failures"], row["last_error"],
                     row["last_success"], row["fetch_url"] or row["url"], row["last_attempt"],
                     row["last_new_item"], row["stale_since"], row["added_at"], row["warning"])
