"""SQLite, the single source of truth: feeds' polling state, items and their progress, stories,
and the alert outbox. Every query of the project lives here (the tables: `monitor/schema.py`).

Each pipeline step commits in one transaction with the state that proves it happened, so a crash
at any instant leaves either the step done or not done, never half: an item is `new` until its
article, story and alerts are written together; an alert is `pending` until delivered.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.config.config import is_postgres
from monitor.core import terms
from monitor.core.dedup import TOP_TERMS, Fingerprint
from monitor.core.feeds import canonical_url, identity
from monitor.core.models import (
    Alert,
    Article,
    Entry,
    FeedState,
    PendingItem,
    RetryItem,
    StoryAssignment,
)
from monitor.core.storyindex import Candidate
from monitor.core.text import title_words
from monitor.store.console import ConsoleQueries
from monitor.store.database import Database, Postgres, Sqlite, default_instance, new_owner, open_database
from monitor.store.leases import LeaseQueries
from monitor.store.outbox import OutboxQueries, queue_alerts
from monitor.store.schema import SCHEMA, SCHEMA_VERSION, UPGRADES


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


class Store(LeaseQueries, OutboxQueries, ConsoleQueries):
    """The project's queries over one `Database`: SQLite (a path) or PostgreSQL (a URL)."""

    def __init__(self, target: str | Path, instance: str | None = None) -> None:
        self.target = target
        self.instance = instance or default_instance()
        self.owner = new_owner(self.instance)  # who this process's leases name
        self._db: Database = open_database(target)
        try:
            self._db.migrate(SCHEMA_VERSION, SCHEMA, UPGRADES)
        except BaseException:
            self._db.close()
            raise

    @property
    def path(self) -> Path:
        return Path(self.target)

    @staticmethod
    def verify(target: str | Path) -> None:
        """Read-only: a database (a file, if there is one yet) this monitor can use, whole.
        Raises UnusableDatabase. (A PostgreSQL server: it answers, and its schema is known.)"""
        if is_postgres(target):
            Postgres.verify(str(target), SCHEMA_VERSION)
        else:
            Sqlite.verify(Path(target), SCHEMA_VERSION)

    @property
    def engine(self) -> str:
        return self._db.engine

    def close(self) -> None:
        self._db.close()

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Database]:
        """One transaction (nested ones join it); `lock` is held to its end, cluster-wide."""
        return self._db.transaction(lock)

    # -- feeds -----------------------------------------------------------------------------

    def sync_feeds(self, feeds: Iterable[tuple[str, str]], now: float) -> None:
        """Make sure every configured (url, name) has a row; new feeds are due at once."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO feeds (url, name, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET name = excluded.name",
                [(url, name, now) for url, name in feeds])

    def feed(self, url: str) -> FeedState:
        return _feed(self._db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone())

    def feeds(self) -> list[FeedState]:
        return [_feed(row) for row in self._db.execute("SELECT * FROM feeds ORDER BY name")]

    def items_per_feed(self, since: float) -> dict[str, int]:
        return dict(self._db.execute("SELECT feed_url, COUNT(*) FROM items WHERE seen_at >= ? "
                                     "GROUP BY feed_url", (since,)).fetchall())

    def set_stale(self, url: str, *, stale_since: float | None, now: float, max_age: float,
                  alerts: Sequence[Alert]) -> None:
        """A feed went silent (or spoke again): record it and queue its operational alerts in
        one transaction, so each change is announced exactly once (another instance that saw
        it too finds it recorded, and queues nothing)."""
        with self.transaction() as db:
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

    def prune(self, before: float) -> tuple[int, int]:
        """Keep the database from growing with history: articles completed before `before` lose
        their text and fingerprint (their identity keys stay, so an old item still in a feed is
        never taken for new), and delivered or dead alerts created before then are deleted.
        Returns (articles slimmed, alerts deleted). One instance at a time: another pruning
        already leaves nothing to do."""
        with self.transaction() as db:
            if not db.try_lock("prune"):
                return 0, 0
            old = [row[0] for row in db.execute(  # reads the kept articles only, not all history
                "SELECT item_id FROM articles JOIN items ON items.id = articles.item_id "
                "WHERE items.processed_at < ?", (before,))]
            for start in range(0, len(old), 500):
                chunk = old[start:start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM articles WHERE item_id IN ({marks})", chunk)
                db.execute(f"UPDATE items SET summary = '' WHERE id IN ({marks})", chunk)
            slimmed = len(old)
            deleted = db.execute("DELETE FROM alerts WHERE created_at < ? AND status != 'pending'",
                                 (before,)).rowcount
        return slimmed, deleted

    def writable(self, wait: float = 2.0) -> bool:
        """Can a write start within `wait` seconds (file writable and not locked; server up)?"""
        return self._db.writable(wait)

    def due_feeds(self, now: float, urls: Sequence[str], lease: float | None = None,
                  limit: int = 100_000) -> list[str]:
        """Those of `urls` whose next check has come, most overdue first; with `lease`, claimed
        for that long (none another instance holds)."""
        if not urls:
            return []
        marks = ",".join("?" * len(urls))
        return self._claim("feeds", "url", f"next_check <= ? AND url IN ({marks})",
                           (now, *urls), "next_check", limit, now, lease)

    def record_success(self, url: str, *, now: float, next_check: float, etag: str | None,
                       last_modified: str | None, body_hash: str | None,
                       entries: Sequence[Entry] = (), moved_to: str | None = None,
                       old: Collection[int] = (), not_modified: bool = False) -> int:
        """A good poll: new validators, failures reset, and its unseen entries stored as `new`
        items in the same transaction (those whose index is in `old` never alert). Returns how
        many entries were new. (With no entries, as after a 304, its one statement is atomic
        alone: no transaction, two round trips fewer to a server.)"""
        with self.transaction() if entries else nullcontext(self._db) as db:
            keyed = [(index, entry, entry_keys(entry)) for index, entry in enumerate(entries)]
            known = _known_keys(db, [key for _, _, keys in keyed for key in keys])
            unseen = []
            for index, entry, keys in keyed:
                if keys and known.isdisjoint(keys):
                    unseen.append((entry, keys, index in old))
                known.update(keys)
            new = sum(_insert_entries(db, unseen[start:start + 200], now)
                      for start in range(0, len(unseen), 200))
            db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, next_check = ?, "
                "failures = 0, last_error = NULL, last_attempt = ?, last_success = ?, "
                "fetch_url = COALESCE(?, fetch_url), polls = polls + 1, "
                "not_modified = not_modified + ?, lease_until = NULL, "
                "last_new_item = CASE WHEN ? > 0 THEN ? ELSE last_new_item END WHERE url = ?",
                (etag, last_modified, body_hash, next_check, now, now, moved_to, not_modified,
                 new, now, url))
        return new

    def feed_warning(self, url: str, warning: str | None) -> None:
        """What was wrong with the document just parsed (None: nothing)."""
        self._db.execute("UPDATE feeds SET warning = ? WHERE url = ?", (warning, url))

    def record_failure(self, url: str, *, now: float, next_check: float, error: str) -> None:
        self._db.execute(
            "UPDATE feeds SET failures = failures + 1, last_error = ?, last_attempt = ?, "
            "next_check = ?, lease_until = NULL WHERE url = ?", (error, now, next_check, url))

    # -- items and stories -----------------------------------------------------------------

    def pending_items(self, limit: int = 1000, after: int = 0, now: float = float("inf"),
                      lease: float | None = None) -> list[PendingItem]:
        """Items seen but not yet processed, oldest first (including any a crash interrupted);
        only those after item `after`, to page through them, and not waiting to be retried
        at `now`; with `lease`, claimed for that long (none another instance holds)."""
        ids = self._claim("items", "id", "state = 'new' AND id > ? AND coalesce(retry_at, 0) <= ?",
                          (after, now), "id", limit, now, lease)
        if not ids:
            return []
        rows = self._db.execute(
            "SELECT items.*, feeds.name AS feed_name FROM items "
            "LEFT JOIN feeds ON feeds.url = items.feed_url "
            f"WHERE items.id IN ({','.join('?' * len(ids))}) ORDER BY items.id", ids).fetchall()
        return [PendingItem(row["id"], _entry(row), row["feed_name"] or row["feed_url"],
                            row["seen_at"], bool(row["old"])) for row in rows]

    def story_channels(self, story_id: int) -> dict[str, tuple[str, str]]:
        """channel → (rules, priority) of the alerts a story (and the stories merged into it)
        has raised."""
        return {row[0]: (row[1], row[2]) for row in self._db.execute(
            "SELECT channel, rule, priority FROM alerts WHERE kind = 'alert' AND story_id IN "
            "(SELECT id FROM stories WHERE id = ? OR merged_into = ?) ORDER BY id",
            (story_id, story_id))}

    def story_outlets(self, story_id: int) -> set[str]:
        return {row[0] for row in self._db.execute(
            "SELECT DISTINCT outlet FROM items WHERE story_id = ?", (story_id,))}

    def stories(self, since: float) -> list[dict[str, Any]]:
        """Stories seen since `since`, newest first, each with its member articles."""
        stories = self._db.execute(
            "SELECT * FROM stories WHERE last_seen >= ? AND merged_into IS NULL "
            "ORDER BY last_seen DESC", (since,)).fetchall()
        out = []
        for story in stories:
            members = self._db.execute(
                "SELECT link, canonical_url, outlet, title, published, story_reason, story_score "
                "FROM items WHERE story_id = ? ORDER BY processed_at", (story["id"],)).fetchall()
            out.append({
                "id": story["id"], "title": story["title"], "first_seen": story["first_seen"],
                "last_seen": story["last_seen"],
                "articles": [{"link": m["canonical_url"] or m["link"], "outlet": m["outlet"],
                              "title": m["title"], "published": m["published"],
                              "joined_by": m["story_reason"], "score": m["story_score"]}
                             for m in members]})
        return out

    def story_of_url(self, url: str, other_than: int) -> int | None:
        """The story of another completed item known by this address (its page's canonical URL
        named an article we already have: an AMP copy, a second address)."""
        row = self._db.execute(
            "SELECT items.story_id FROM item_keys JOIN items ON items.id = item_keys.item_id "
            "WHERE item_keys.key = ? AND items.id != ? AND items.story_id IS NOT NULL",
            (url_key(url), other_than)).fetchone()
        return row[0] if row else None

    def recent_candidates(self, since: float) -> list[Candidate]:
        """Articles completed since `since`, oldest first, as candidates for story assignment."""
        rows = self._db.execute(
            "SELECT story_id, fingerprint FROM items "
            "JOIN articles ON articles.item_id = items.id "
            "WHERE story_id IS NOT NULL AND processed_at >= ? ORDER BY processed_at",
            (since,)).fetchall()
        return [Candidate(row["story_id"], _load_fingerprint(row["fingerprint"]))
                for row in rows]

    def story_seq(self) -> int:
        """How many story assignments were ever written: the index built now has seen them."""
        return int(self._db.execute("SELECT value FROM counters WHERE name = 'stories'"
                                    ).fetchone()[0])

    def story_changes(self, after: int) -> tuple[list[Candidate], list[tuple[int, int]], int]:
        """What other instances wrote since assignment `after`: the articles they completed
        (with their story as it is now) and the merges they made (story, into); and the
        assignment count now. Read under the "stories" lock, it is all there is."""
        seq = self.story_seq()
        if seq == after:
            return [], [], seq
        added = [Candidate(row[0], _load_fingerprint(row[1])) for row in self._db.execute(
            "SELECT story_id, fingerprint FROM items JOIN articles ON articles.item_id = items.id "
            "WHERE done_seq > ? ORDER BY done_seq", (after,))]
        merged = [(row[0], row[1]) for row in self._db.execute(
            "SELECT id, merged_into FROM stories WHERE merge_seq > ? ORDER BY merge_seq",
            (after,))]
        return added, merged, seq

    def complete_item(self, item_id: int, *, now: float, article: Article,
                      fingerprint: Fingerprint, assignment: StoryAssignment,
                      matched: Sequence[str], alerts: Sequence[Alert],
                      max_age: float = 24 * 3600.0,
                      page_retry_at: float | None = None) -> tuple[int, int]:
        """Write an item's article, story and alerts together. Returns (story id, alerts queued);
        an alert whose story × channel (a follow-up: story × channel × item) is already queued is
        not queued again. The stories the article bridges are merged into its story.
        `page_retry_at`: completed from its summary, its page is to be fetched again then."""
        with self.transaction() as db:
            seq = db.execute("UPDATE counters SET value = value + 1 WHERE name = 'stories' "
                             "RETURNING value").fetchone()[0]
            story_id = assignment.story_id
            if story_id is None:
                story_id = db.execute(
                    "INSERT INTO stories (title, first_seen, last_seen) VALUES (?, ?, ?) "
                    "RETURNING id", (article.title, now, now)).fetchone()[0]
            else:
                db.execute("UPDATE stories SET last_seen = ? WHERE id = ?", (now, story_id))
            for merged in assignment.merged:  # kept flat: a story points at a live one
                db.execute("UPDATE stories SET merged_into = ?, merge_seq = ? "
                           "WHERE id = ? OR merged_into = ?", (story_id, seq, merged, merged))
                db.execute("UPDATE items SET story_id = ? WHERE story_id = ?", (story_id, merged))
            db.execute(
                "UPDATE items SET state = 'done', outlet = ?, language = ?, source = ?, "
                "canonical_url = ?, story_id = ?, story_reason = ?, story_score = ?, "
                "matched_rules = ?, processed_at = ?, page_retry_at = ?, done_seq = ?, "
                "lease_until = NULL WHERE id = ?",
                (article.outlet, article.language, article.source, article.canonical_url,
                 story_id, assignment.reason, assignment.score, json.dumps(list(matched)), now,
                 page_retry_at, seq, item_id))
            _save_article(db, item_id, article.text, fingerprint)
            if article.canonical_url:
                db.execute("INSERT INTO item_keys (key, item_id) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING", (url_key(article.canonical_url), item_id))
            queued = queue_alerts(db, story_id, item_id, alerts, now, max_age)
        return story_id, queued

    def pages_to_retry(self, now: float, limit: int = 100) -> list[RetryItem]:
        """Items completed from their summary whose page is due to be fetched again."""
        rows = self._db.execute(
            "SELECT items.*, feeds.name AS feed_name FROM items "
            "LEFT JOIN feeds ON feeds.url = items.feed_url "
            "WHERE page_retry_at IS NOT NULL AND page_retry_at <= ? ORDER BY page_retry_at "
            "LIMIT ?", (now, limit)).fetchall()
        return [RetryItem(PendingItem(row["id"], _entry(row), row["feed_name"] or row["feed_url"],
                                      row["seen_at"], bool(row["old"])),
                          row["story_id"], tuple(json.loads(row["matched_rules"] or "[]")),
                          row["page_tries"]) for row in rows]

    def item_failed(self, item_id: int, now: float, first_wait: float, max_wait: float) -> int:
        """Completing it raised: it stays new, tried again after `first_wait`, doubling up to
        `max_wait`. Returns how many attempts have failed."""
        with self.transaction() as db:
            db.execute("UPDATE items SET tries = tries + 1, "
                       "retry_at = ? + least(?, ? * (1 << CAST(least(tries, 30) AS INTEGER))), "
                       "lease_until = NULL "
                       "WHERE id = ?",
                       (now, max_wait, first_wait, item_id))
            row = db.execute("SELECT tries FROM items WHERE id = ?", (item_id,)).fetchone()
        return int(row[0]) if row else 0

    def page_failed(self, item_id: int, retry_at: float | None) -> None:
        """Its page failed again: tried once more at `retry_at`, or never (None)."""
        with self.transaction() as db:
            db.execute("UPDATE items SET page_tries = page_tries + 1, page_retry_at = ? "
                       "WHERE id = ?", (retry_at, item_id))

    def refresh_article(self, item_id: int, *, story_id: int, now: float, article: Article,
                        fingerprint: Fingerprint, matched: Sequence[str],
                        alerts: Sequence[Alert], max_age: float) -> int:
        """Its page came at last: the article's full text and the rules it matches replace
        the summary's, with the alerts they raise. Returns alerts queued."""
        with self.transaction() as db:
            db.execute("UPDATE items SET source = ?, canonical_url = coalesce(?, canonical_url), "
                       "matched_rules = ?, page_tries = page_tries + 1, page_retry_at = NULL "
                       "WHERE id = ?", (article.source, article.canonical_url,
                                        json.dumps(list(matched)), item_id))
            _save_article(db, item_id, article.text, fingerprint)
            return queue_alerts(db, story_id, item_id, alerts, now, max_age)

    def completed_articles(self, since: float) -> Iterator[tuple[Article, int]]:
        """Every article completed since `since` (a timestamp), oldest first, with its story."""
        cursor = self._db.execute(
            "SELECT items.*, articles.text FROM items "
            "LEFT JOIN articles ON articles.item_id = items.id "
            "WHERE state = 'done' AND processed_at >= ? ORDER BY processed_at",
            (since,))
        for row in cursor:
            published = row["published"]
            yield Article(
                url=row["link"], title=row["title"], summary=row["summary"], text=row["text"] or "",
                published=datetime.fromtimestamp(published, UTC) if published is not None else None,
                outlet=row["outlet"] or "", source=row["source"] or "feed",
                canonical_url=row["canonical_url"], language=row["language"],
                feed_url=row["feed_url"]), row["story_id"]

    def count_completed(self, since: float) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM items WHERE state = 'done' "
                                      "AND processed_at >= ?", (since,)).fetchone()[0]
        return count


def _insert_entries(db: Database, unseen: list[tuple[Entry, list[str], bool]],
                    now: float) -> int:
    """Store entries none of whose keys was known, as items (two statements for them all).
    Another instance may be storing the same article from another feed at this moment: then
    one of its keys is taken on insertion (PostgreSQL waits for the other's commit to tell),
    and that item is deleted again, its keys with it. Returns the items stored."""
    if not unseen:
        return 0
    rows = db.execute(
        "INSERT INTO items (feed_url, guid, link, title, title_words, summary, published, "
        "seen_at, old) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(unseen))
        + " RETURNING id, feed_url, guid, link, title",
        [value for entry, _, old in unseen for value in (
            entry.feed_url, entry.guid, entry.link, entry.title, title_words(entry.title),
            entry.summary, _ts(entry.published), now, old)]).fetchall()
    # RETURNING's order is not promised: each row is found by what it was given (entries
    # alike in all of these share their keys, so only one of them is here)
    ids = {tuple(row[1:]): row[0] for row in rows}
    keys_of = {ids[(entry.feed_url, entry.guid, entry.link, entry.title)]: keys
               for entry, keys, _ in unseen}
    pairs = [(key, item_id) for item_id, keys in keys_of.items() for key in keys]
    inserted = Counter(row[0] for row in db.execute(
        "INSERT INTO item_keys (key, item_id) VALUES " + ", ".join(["(?, ?)"] * len(pairs))
        + " ON CONFLICT DO NOTHING RETURNING item_id",
        [value for pair in pairs for value in pair]))
    taken = [item_id for item_id, keys in keys_of.items() if inserted[item_id] < len(keys)]
    for item_id in taken:
        db.execute("DELETE FROM items WHERE id = ?", (item_id,))
    return len(keys_of) - len(taken)


def _known_keys(db: Database, keys: list[str]) -> set[str]:
    """Those of `keys` some stored item has (one query per 500, not one per entry)."""
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        known.update(row[0] for row in db.execute(
            f"SELECT key FROM item_keys WHERE key IN ({','.join('?' * len(chunk))})", chunk))
    return known


def _save_article(db: Database, item_id: int, text: str, fingerprint: Fingerprint) -> None:
    db.execute("INSERT INTO articles (item_id, text, fingerprint) VALUES (?, ?, ?) "
               "ON CONFLICT (item_id) DO UPDATE SET text = excluded.text, "
               "fingerprint = excluded.fingerprint",
               (item_id, text, _dump_fingerprint(fingerprint)))


def _feed(row: Any) -> FeedState:
    return FeedState(row["url"], row["name"], row["etag"], row["last_modified"],
                     row["body_hash"], row["next_check"], row["failures"], row["last_error"],
                     row["last_success"], row["fetch_url"] or row["url"], row["last_attempt"],
                     row["last_new_item"], row["stale_since"], row["added_at"], row["warning"])


def _entry(row: Any) -> Entry:
    published = row["published"]
    return Entry(row["feed_url"], row["guid"], row["link"], row["title"], row["summary"],
                 datetime.fromtimestamp(published, UTC) if published is not None else None)


def _dump_fingerprint(fp: Fingerprint) -> str:
    return json.dumps({"vector": fp.vector, "hash": fp.text_hash,
                       "minhash": fp.minhash.hex() if fp.minhash else None,
                       "shingles": fp.shingles, "at": fp.at,
                       "kind": fp.kind, "events": sorted(fp.events)}, ensure_ascii=False)


def _load_fingerprint(raw: str) -> Fingerprint:
    data = json.loads(raw)
    if "vector" in data:
        vector = data["vector"]
    else:  # stored by schema 2: its title words and lead keywords stand for headline and lead
        vector = terms.vector(" ".join(data["title"]), " ".join(data["keywords"]))
    return Fingerprint(vector, data["hash"],
                       bytes.fromhex(data["minhash"]) if data["minhash"] else None,
                       data["shingles"], data["at"],
                       data.get("kind", "news"), terms.top_terms(vector, TOP_TERMS),
                       frozenset(data.get("events", ())))
