"""Items on their way to an article and a story, and the stories themselves: the complete
runner's role (`ItemStorage`). An item is `new` until its article, story and alerts are written
together in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.core.dedup import Fingerprint
from monitor.core.errors import LeaseLost
from monitor.core.models import (
    Alert,
    Article,
    Entry,
    Muted,
    PendingItem,
    RetryItem,
    StoryAssignment,
)
from monitor.core.spread import Member, site
from monitor.core.storyindex import Candidate
from monitor.store import stories
from monitor.store.database import Database
from monitor.store.feeds import url_key
from monitor.store.leases import FENCE, Leases
from monitor.store.outbox import MUTED, queue_alerts


def news_time(of: str = "") -> str:
    """SQL for when an article was news: published, unless unknown or later than when it was
    seen (`of`: the items table's alias, with its dot)."""
    return (f"CASE WHEN {of}published IS NOT NULL AND {of}published <= {of}seen_at "
            f"THEN {of}published ELSE {of}seen_at END")


def live_story_id(db: Database, story_id: int) -> int | None:
    """The story `story_id` is now: itself, or the story it was merged into; None if unknown."""
    row = db.execute("SELECT coalesce(merged_into, id) FROM stories WHERE id = ?",
                     (story_id,)).fetchone()
    return row[0] if row is not None else None


class Items:
    """The queries of items, articles and stories, over one database."""

    def __init__(self, db: Database, leases: Leases) -> None:
        self._db = db
        self._leases = leases

    def pending(self, limit: int = 1000, after: int = 0, now: float = float("inf"),
                      lease: float | None = None) -> list[PendingItem]:
        """Items seen but not yet processed, oldest first (including any a crash interrupted);
        only those after item `after`, to page through them, and not waiting to be retried
        at `now`; with `lease`, claimed for that long (none another instance holds)."""
        ids = self._leases.claim("items", "state = 'new' AND id > ? AND coalesce(retry_at, 0) <= ?",
                          (after, now), "id", limit, now, lease)
        if not ids:
            return []
        try:
            rows = self._db.execute(
                "SELECT items.*, feeds.name AS feed_name FROM items "
                "LEFT JOIN feeds ON feeds.url = items.feed_url "
                f"WHERE items.id IN ({','.join('?' * len(ids))}) ORDER BY items.id", ids
            ).fetchall()
        except BaseException:  # claimed, yet the caller never learns which: not renewed
            self._leases.settle("items", ids)
            raise
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

    def story_members(self, story_id: int) -> list[Member]:
        """A story's articles as its spread counts them: outlet, when published (when seen, for
        a date unknown or later than that), rules matched."""
        return [Member(row[0] or "", site(row[1]), row[2], tuple(json.loads(row[3] or "[]")))
                for row in self._db.execute(
                    f"SELECT outlet, coalesce(canonical_url, link), {news_time()}, "
                    "matched_rules FROM items WHERE story_id = ?", (story_id,))]

    def muted_stories(self, story_ids: Sequence[int]) -> frozenset[int]:
        """Those of `story_ids` a user muted."""
        if not story_ids:
            return frozenset()
        where, params = self._db.any_of("id", story_ids, "bigint")
        return frozenset(row[0] for row in self._db.execute(
            f"SELECT id FROM stories WHERE {where} AND muted_at IS NOT NULL", params))

    def mute(self, story_id: int, now: float, *, muted: bool = True) -> Muted | None:
        """Mutes (or unmutes) a story: the live one, when it was merged into another. Its
        alerts not yet sent, and not being sent now, are muted with it: dead (`outbox.MUTED`),
        kept to be seen. None when there is no such story."""
        with self._db.transaction() as db:
            live = live_story_id(db, story_id)
            if live is None:
                return None
            if muted:
                db.execute("UPDATE stories SET muted_at = ? WHERE id = ?", (now, live))
            else:  # and the stories merged into it, which a later merge would read
                db.execute("UPDATE stories SET muted_at = NULL WHERE id = ? OR merged_into = ?",
                           (live, live))
            held = 0
            if muted:
                held = db.execute(
                    "UPDATE alerts SET status = 'dead', last_error = ? WHERE status = 'pending' "
                    "AND coalesce(lease_until, 0) <= ? AND story_id IN "
                    "(SELECT id FROM stories WHERE id = ? OR merged_into = ?)",
                    (MUTED, now, live, live)).rowcount
        return Muted(live, held)

    def stories(self, since: float) -> list[dict[str, Any]]:
        """Stories seen since `since`, newest first, each with its member articles."""
        stories = self._db.execute(
            "SELECT * FROM stories WHERE last_seen >= ? AND merged_into IS NULL "
            "ORDER BY last_seen DESC", (since,)).fetchall()
        out = []
        for story in stories:
            members = self._db.execute(
                "SELECT link, canonical_url, outlet, title, published, story_reason, "
                "story_evidence, story_score FROM items WHERE story_id = ? ORDER BY processed_at",
                (story["id"],)).fetchall()
            out.append({
                "id": story["id"], "title": story["title"], "first_seen": story["first_seen"],
                "last_seen": story["last_seen"], "muted": story["muted_at"] is not None,
                "articles": [{"link": m["canonical_url"] or m["link"], "outlet": m["outlet"],
                              "title": m["title"], "published": m["published"],
                              "joined_by": m["story_reason"], "evidence": m["story_evidence"],
                              "score": m["story_score"]}
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
        return [Candidate(row["story_id"], stories.load_fingerprint(row["fingerprint"]))
                for row in rows]

    def complete(self, item_id: int, *, now: float, article: Article,
                      fingerprint: Fingerprint, assignment: StoryAssignment,
                      matched: Sequence[str], alerts: Sequence[Alert],
                      max_age: float = 24 * 3600.0,
                      page_retry_at: float | None = None, evidence: str = "") -> tuple[int, int]:
        """Write an item's article, story and alerts together. Returns (story id, alerts queued);
        an alert whose story × channel (a follow-up: story × channel × item) is already queued is
        not queued again. The stories the article bridges are merged into its story.
        `page_retry_at`: completed from its summary, its page is to be fetched again then.
        Raises LeaseLost, writing nothing, when the item is no longer this process's to
        complete (claimed again by another instance, or completed already)."""
        token = self._leases.token("items", item_id)
        with self._db.transaction() as db:
            story_id = assignment.story_id
            if story_id is None:
                story_id = db.execute(
                    "INSERT INTO stories (title, first_seen, last_seen) VALUES (?, ?, ?) "
                    "RETURNING id", (article.title, now, now)).fetchone()[0]
            else:
                db.execute("UPDATE stories SET last_seen = ? WHERE id = ?", (now, story_id))
            for merged in assignment.merged:  # kept flat: a story points at a live one
                db.execute("UPDATE stories SET merged_into = ? WHERE id = ? OR merged_into = ?",
                           (story_id, merged, merged))
                db.execute("UPDATE items SET story_id = ? WHERE story_id = ?", (story_id, merged))
            if assignment.merged:  # a muted story stays quiet in the story it joins
                where, params = db.any_of("id", assignment.merged, "bigint")
                db.execute("UPDATE stories SET muted_at = (SELECT min(muted_at) FROM stories "
                           f"WHERE {where}) WHERE id = ? AND muted_at IS NULL",
                           [*params, story_id])
            done = db.execute(
                "UPDATE items SET state = 'done', outlet = ?, language = ?, source = ?, "
                "canonical_url = ?, story_id = ?, story_reason = ?, story_evidence = ?, "
                "story_score = ?, "
                "matched_rules = ?, processed_at = ?, page_retry_at = ?, "
                "lease_until = NULL WHERE id = ? AND state = 'new'" + FENCE,
                (article.outlet, article.language, article.source, article.canonical_url,
                 story_id, assignment.reason, evidence or None, assignment.score,
                 json.dumps(list(matched)), now,
                 page_retry_at, item_id, token)).rowcount
            if not done:
                raise LeaseLost(f"item {item_id}: completed, or claimed again, by another instance")
            _save_article(db, item_id, article.text, fingerprint)
            stories.file(db, item_id, fingerprint)
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

    def failed(self, item_id: int, now: float, first_wait: float, max_wait: float) -> int:
        """Completing it raised: it stays new, tried again after `first_wait`, doubling up to
        `max_wait`. Returns how many attempts have failed."""
        with self._db.transaction() as db:
            db.execute("UPDATE items SET tries = tries + 1, "
                       "retry_at = ? + least(?, ? * (1 << CAST(least(tries, 30) AS INTEGER))), "
                       "lease_until = NULL WHERE id = ?" + FENCE,
                       (now, max_wait, first_wait, item_id, self._leases.token("items", item_id)))
            row = db.execute("SELECT tries FROM items WHERE id = ?", (item_id,)).fetchone()
        return int(row[0]) if row else 0

    def page_failed(self, item_id: int, retry_at: float | None) -> None:
        """Its page failed again: tried once more at `retry_at`, or never (None)."""
        with self._db.transaction() as db:
            db.execute("UPDATE items SET page_tries = page_tries + 1, page_retry_at = ? "
                       "WHERE id = ?", (retry_at, item_id))

    def refresh_article(self, item_id: int, *, story_id: int, now: float, article: Article,
                        fingerprint: Fingerprint, matched: Sequence[str],
                        alerts: Sequence[Alert], max_age: float) -> int:
        """Its page came at last: the article's full text and the rules it matches replace
        the summary's, with the alerts they raise. Returns alerts queued."""
        with self._db.transaction() as db:
            db.execute("UPDATE items SET source = ?, canonical_url = coalesce(?, canonical_url), "
                       "matched_rules = ?, page_tries = page_tries + 1, page_retry_at = NULL "
                       "WHERE id = ?", (article.source, article.canonical_url,
                                        json.dumps(list(matched)), item_id))
            old = db.execute("SELECT fingerprint FROM articles WHERE item_id = ?",
                             (item_id,)).fetchone()
            if old:  # filed again under its page's names
                stories.unfile(db, item_id, stories.load_fingerprint(old[0]))
            _save_article(db, item_id, article.text, fingerprint)
            stories.file(db, item_id, fingerprint)
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


def _save_article(db: Database, item_id: int, text: str, fingerprint: Fingerprint) -> None:
    db.execute("INSERT INTO articles (item_id, text, fingerprint) VALUES (?, ?, ?) "
               "ON CONFLICT (item_id) DO UPDATE SET text = excluded.text, "
               "fingerprint = excluded.fingerprint",
               (item_id, text, stories.dump_fingerprint(fingerprint)))


def _entry(row: Any) -> Entry:
    published = row["published"]
    return Entry(row["feed_url"], row["guid"], row["link"], row["title"], row["summary"],
                 datetime.fromtimestamp(published, UTC) if published is not None else None)
