"""SQLite, the single source of truth: feeds' polling state, items and their progress, stories,
and the alert outbox. Every query of the project lives here (the tables: `monitor/schema.py`).

Each pipeline step commits in one transaction with the state that proves it happened, so a crash
at any instant leaves either the step done or not done, never half: an item is `new` until its
article, story and alerts are written together; an alert is `pending` until delivered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import terms
from monitor.console_queries import ConsoleQueries
from monitor.dedup import TOP_TERMS, Fingerprint
from monitor.errors import UnusableDatabase
from monitor.feeds import canonical_url, identity
from monitor.models import (
    Alert,
    Article,
    Entry,
    FeedState,
    PendingItem,
    RetryItem,
    StoryAssignment,
)
from monitor.outbox import OutboxQueries, queue_alerts
from monitor.schema import SCHEMA, SCHEMA_VERSION, UPGRADES
from monitor.storyindex import Candidate
from monitor.text import title_words

BUSY_TIMEOUT_MS = 30_000


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


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


class Store(OutboxQueries, ConsoleQueries):
    """One connection, used from the event loop's thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe in WAL
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.create_function("monitor_title_words", 1, title_words, deterministic=True)
            self._migrate()
        except (sqlite3.Error, OSError) as error:
            raise UnusableDatabase(path, _reason(error)) from error

    @staticmethod
    def verify(path: Path) -> None:
        """Read-only: the file (if there is one yet) is a database this monitor can use, whole.
        Raises UnusableDatabase."""
        if not path.exists():
            return
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise UnusableDatabase(path, f"written by a newer monitor, schema {version}")
                found = db.execute("PRAGMA quick_check").fetchone()[0]
                if found != "ok":
                    raise UnusableDatabase(path, f"damaged: {found}")
        except sqlite3.Error as error:
            raise UnusableDatabase(path, _reason(error)) from error

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UnusableDatabase(self.path, f"written by a newer monitor, schema {version}")
        # one script, one transaction each: a crash leaves no half-made schema
        if version == 0:
            self._db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            return
        for old in range(version, SCHEMA_VERSION):
            self._db.executescript(
                f"BEGIN IMMEDIATE; {UPGRADES[old]} PRAGMA user_version = {old + 1}; COMMIT;")

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
        one transaction, so each change is announced exactly once."""
        with self.transaction() as db:
            db.execute("UPDATE feeds SET stale_since = ? WHERE url = ?", (stale_since, url))
            for alert in alerts:
                db.execute(
                    "INSERT INTO alerts (rule, channel, priority, title, payload, next_attempt, "
                    "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert.rule, alert.channel, alert.priority, alert.title,
                     json.dumps(alert.payload, ensure_ascii=False), now, now + max_age, now))

    def prune(self, before: float) -> tuple[int, int]:
        """Keep the database from growing with history: articles completed before `before` lose
        their text and fingerprint (their identity keys stay, so an old item still in a feed is
        never taken for new), and delivered or dead alerts created before then are deleted.
        Returns (articles slimmed, alerts deleted)."""
        with self.transaction() as db:
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
        """Can a write transaction start within `wait` seconds (file writable, not locked)?"""
        self._db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def due_feeds(self, now: float, urls: Sequence[str]) -> list[str]:
        """Those of `urls` whose next check has come, most overdue first."""
        rows = self._db.execute(
            "SELECT url FROM feeds WHERE next_check <= ? ORDER BY next_check", (now,)).fetchall()
        wanted = set(urls)
        return [row["url"] for row in rows if row["url"] in wanted]

    def record_success(self, url: str, *, now: float, next_check: float, etag: str | None,
                       last_modified: str | None, body_hash: str | None,
                       entries: Sequence[Entry] = (), moved_to: str | None = None,
                       old: Collection[int] = (), not_modified: bool = False) -> int:
        """A good poll: new validators, failures reset, and its unseen entries stored as `new`
        items in the same transaction (those whose index is in `old` never alert). Returns how
        many entries were new."""
        with self.transaction() as db:
            new = sum(self._insert_entry(db, entry, now, index in old)
                      for index, entry in enumerate(entries))
            db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, next_check = ?, "
                "failures = 0, last_error = NULL, last_attempt = ?, last_success = ?, "
                "fetch_url = COALESCE(?, fetch_url), polls = polls + 1, "
                "not_modified = not_modified + ?, "
                "last_new_item = CASE WHEN ? THEN ? ELSE last_new_item END WHERE url = ?",
                (etag, last_modified, body_hash, next_check, now, now, moved_to, not_modified,
                 new > 0, now, url))
        return new

    def feed_warning(self, url: str, warning: str | None) -> None:
        """What was wrong with the document just parsed (None: nothing)."""
        with self.transaction() as db:
            db.execute("UPDATE feeds SET warning = ? WHERE url = ?", (warning, url))

    def record_failure(self, url: str, *, now: float, next_check: float, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE feeds SET failures = failures + 1, last_error = ?, last_attempt = ?, "
                "next_check = ? WHERE url = ?", (error, now, next_check, url))

    @staticmethod
    def _insert_entry(db: sqlite3.Connection, entry: Entry, now: float, old: bool) -> bool:
        keys = entry_keys(entry)
        if not keys:
            return False
        marks = ",".join("?" * len(keys))
        if db.execute(f"SELECT 1 FROM item_keys WHERE key IN ({marks})", keys).fetchone():
            return False
        cursor = db.execute(
            "INSERT INTO items (feed_url, guid, link, title, title_words, summary, published, "
            "seen_at, old) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.feed_url, entry.guid, entry.link, entry.title, title_words(entry.title),
             entry.summary,
             _ts(entry.published), now, old))
        db.executemany("INSERT OR IGNORE INTO item_keys (key, item_id) VALUES (?, ?)",
                       [(key, cursor.lastrowid) for key in keys])
        return True

    # -- items and stories -----------------------------------------------------------------

    def pending_items(self, limit: int = 1000, after: int = 0,
                      now: float = float("inf")) -> list[PendingItem]:
        """Items seen but not yet processed, oldest first (including any a crash interrupted);
        only those after item `after`, to page through them, and not waiting to be retried
        at `now`."""
        rows = self._db.execute(
            "SELECT items.*, feeds.name AS feed_name FROM items "
            "LEFT JOIN feeds ON feeds.url = items.feed_url "
            "WHERE state = 'new' AND items.id > ? AND coalesce(retry_at, 0) <= ? "
            "ORDER BY items.id LIMIT ?", (after, now, limit)).fetchall()
        return [PendingItem(row["id"], _entry(row), row["feed_name"] or row["feed_url"],
                            row["seen_at"], bool(row["old"])) for row in rows]

    def story_channels(self, story_id: int) -> dict[str, tuple[str, str]]:
        """channel → (rules, priority) of the alerts a story (and the stories merged into it)
        has raised."""
        return {row[0]: (row[1], row[2]) for row in self._db.execute(
            "SELECT channel, rule, priority FROM alerts WHERE kind = 'alert' AND story_id IN "
            "(SELECT id FROM stories WHERE id = ?1 OR merged_into = ?1) ORDER BY id",
            (story_id,))}

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
            story_id = assignment.story_id
            if story_id is None:
                story_id = db.execute(
                    "INSERT INTO stories (title, first_seen, last_seen) VALUES (?, ?, ?)",
                    (article.title, now, now)).lastrowid
                assert story_id is not None  # set by the INSERT
            else:
                db.execute("UPDATE stories SET last_seen = ? WHERE id = ?", (now, story_id))
            for merged in assignment.merged:  # kept flat: a story points at a live one
                db.execute("UPDATE stories SET merged_into = ?1 WHERE id = ?2 OR merged_into = ?2",
                           (story_id, merged))
                db.execute("UPDATE items SET story_id = ? WHERE story_id = ?", (story_id, merged))
            db.execute(
                "UPDATE items SET state = 'done', outlet = ?, language = ?, source = ?, "
                "canonical_url = ?, story_id = ?, story_reason = ?, story_score = ?, "
                "matched_rules = ?, processed_at = ?, page_retry_at = ? WHERE id = ?",
                (article.outlet, article.language, article.source, article.canonical_url,
                 story_id, assignment.reason, assignment.score, json.dumps(list(matched)), now,
                 page_retry_at, item_id))
            db.execute("INSERT OR REPLACE INTO articles (item_id, text, fingerprint) "
                       "VALUES (?, ?, ?)", (item_id, article.text, _dump_fingerprint(fingerprint)))
            if article.canonical_url:
                db.execute("INSERT OR IGNORE INTO item_keys (key, item_id) VALUES (?, ?)",
                           (url_key(article.canonical_url), item_id))
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
                       "retry_at = ? + min(?, ? * (1 << min(tries, 30))) WHERE id = ?",
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
            db.execute("INSERT OR REPLACE INTO articles (item_id, text, fingerprint) "
                       "VALUES (?, ?, ?)", (item_id, article.text, _dump_fingerprint(fingerprint)))
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


def _feed(row: sqlite3.Row) -> FeedState:
    return FeedState(row["url"], row["name"], row["etag"], row["last_modified"],
                     row["body_hash"], row["next_check"], row["failures"], row["last_error"],
                     row["last_success"], row["fetch_url"] or row["url"], row["last_attempt"],
                     row["last_new_item"], row["stale_since"], row["added_at"], row["warning"])


def _entry(row: sqlite3.Row) -> Entry:
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
