"""The story index in the database: each recent article filed under its names (text hash, LSH
buckets, heaviest terms, events: `storyindex.lookup`), one row per name. An article is assigned
by reading the rows of its own names, then the fingerprints of the few articles they point at,
and judging those pairs with `storyindex`'s pure functions: the same verdicts as the in-memory
index, at a cost to the daemon's memory of nothing, whatever the window holds (the in-memory
index took 3.2 KB an article, 1 GB for 300,000). Rows are written in the transaction that
completes their item, so every instance sees every other's articles at once: no catch-up.

Called under the "stories" lock, on a database thread. An article is a member while it was
completed less than two windows ago (as the in-memory index forgot it); `prune` deletes the
rows of older ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import orjson

from monitor.core import evergreen, terms
from monitor.core.dedup import TOP_TERMS, Fingerprint
from monitor.core.models import StoryAssignment
from monitor.core.storyindex import (
    MIN_TOP_SHARED,
    Lookup,
    Verdicts,
    assignment,
    linked,
    lookup,
    related_story,
)
from monitor.store.database import Database

Members = dict[int, tuple[int, Fingerprint]]  # item id → (its story now, its fingerprint)
REBUILD = "postings_rebuild"  # a counter present while the rows are to be filed again


class StoredStories:
    def __init__(self, db: Database) -> None:
        self._db = db

    def assign(self, fp: Fingerprint, now: float, window: float) -> StoryAssignment:
        """The story the article belongs to, and the stories it bridges into that one."""
        if fp.kind != evergreen.NEWS:
            return StoryAssignment(None, fp.kind)
        best, members = self._linked(fp, now, window)
        return assignment(fp, best, members)

    def related(self, fp: Fingerprint, now: float, window: float) -> int | None:
        """The story a live page or a bulletin speaks of, judged as if it were news."""
        return related_story(self._linked(replace(fp, kind=evergreen.NEWS), now, window)[0])

    def _linked(self, fp: Fingerprint, now: float, window: float) -> tuple[Verdicts, Members]:
        by_text, by_words = self._candidates(lookup(fp))
        members = self._members(sorted(by_text | by_words), now - 2 * window)
        return linked(fp, members, by_text, window), members

    def _candidates(self, found: Lookup) -> tuple[set[int], set[int]]:
        """`storyindex.candidates` in one statement (one round trip to PostgreSQL), the terms
        in common counted by the database: a common term's hundreds of rows never come back
        to Python (720 → 1,900 articles/s with 100,000 stored, where counting in a CASE over
        every row gave 850)."""
        db, parts, params = self._db, [], []
        for kind, names, having in (
                (0, found.text, ""), (1, found.events, ""),
                (1, found.terms, f" GROUP BY item_id HAVING count(*) >= {MIN_TOP_SHARED}")):
            if names:
                where, given = db.any_of("name", names, "bigint")
                parts.append(f"SELECT {kind}, item_id FROM story_postings WHERE {where}{having}")
                params += given
        by: tuple[set[int], set[int]] = (set(), set())
        if parts:
            for kind, item_id in db.execute(" UNION ALL ".join(parts), params):
                by[kind].add(item_id)
        return by

    def _members(self, item_ids: Sequence[int], since: float) -> Members:
        if not item_ids:
            return {}
        where, params = self._db.any_of("items.id", item_ids, "bigint")
        return {row[0]: (row[1], load_fingerprint(row[2])) for row in self._db.execute(
            "SELECT items.id, items.story_id, articles.fingerprint FROM items "
            f"JOIN articles ON articles.item_id = items.id WHERE {where} "
            "AND items.story_id IS NOT NULL AND items.processed_at >= ?", [*params, since])}

    def prune(self, before: float) -> int:
        """Deletes the rows of articles completed before `before` (two windows ago: no longer
        members), those completed since the last prune's horizon only. Returns rows deleted."""
        with self._db.transaction(lock="stories") as db:
            row = db.execute("SELECT value FROM counters WHERE name = 'postings_pruned'").fetchone()
            since = row[0] if row else 0
            deleted = 0
            for item_id, raw in db.execute(
                    "SELECT items.id, articles.fingerprint FROM items "
                    "JOIN articles ON articles.item_id = items.id WHERE items.story_id IS NOT NULL "
                    "AND items.processed_at >= ? AND items.processed_at < ?",
                    (since, before)).fetchall():
                deleted += unfile(db, item_id, load_fingerprint(raw))
            _pruned_to(db, before)
        return deleted

    def rebuild_if_needed(self, since: float) -> int:
        """Files the articles completed since `since`, once, when the database asks for it (an
        upgrade from schema 13, a migration). Returns articles filed."""
        db = self._db
        if not db.execute("SELECT 1 FROM counters WHERE name = ?", (REBUILD,)).fetchone():
            return 0
        rows = db.execute("SELECT items.id, articles.fingerprint FROM items "
                          "JOIN articles ON articles.item_id = items.id "
                          "WHERE items.story_id IS NOT NULL AND items.processed_at >= ?",
                          (since,)).fetchall()
        db.execute("DELETE FROM story_postings")
        for item_id, raw in rows:
            file(db, item_id, load_fingerprint(raw))
        db.execute("DELETE FROM counters WHERE name = ?", (REBUILD,))
        _pruned_to(db, since)  # nothing older was filed: no prune need read it
        return len(rows)


def _pruned_to(db: Database, horizon: float) -> None:
    """Where the next prune starts reading: articles completed before it have no rows."""
    db.execute("INSERT INTO counters (name, value) VALUES ('postings_pruned', ?) "
               "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (int(horizon),))


def file(db: Database, item_id: int, fp: Fingerprint) -> None:
    """The article's rows, in the caller's transaction (the one completing its item)."""
    names = sorted(set(lookup(fp).names()))
    if names:
        source, params = db.rows([(name, item_id) for name in names], ("bigint", "bigint"))
        db.execute(f"INSERT INTO story_postings (name, item_id) {source} ON CONFLICT DO NOTHING",
                   params)


def unfile(db: Database, item_id: int, fp: Fingerprint) -> int:
    """Deletes the article's rows (it is refiled under a new fingerprint, or too old). Returns
    how many."""
    where, params = db.any_of("name", sorted(set(lookup(fp).names())) or [0], "bigint")
    return int(db.execute(f"DELETE FROM story_postings WHERE {where} AND item_id = ?",
                          [*params, item_id]).rowcount)


# JSON by orjson: an assignment reads the fingerprints of 5 to 10 candidates, at 7 µs each
# where the json module took 19 (the daemon's busiest thread; bench/daemon.py)
def dump_fingerprint(fp: Fingerprint) -> str:
    return orjson.dumps({"vector": fp.vector, "hash": fp.text_hash,
                         "minhash": fp.minhash.hex() if fp.minhash else None,
                         "shingles": fp.shingles, "at": fp.at,
                         "kind": fp.kind, "events": sorted(fp.events), "top": fp.top}).decode()


def load_fingerprint(raw: str) -> Fingerprint:
    data = orjson.loads(raw)
    if "vector" in data:
        vector = data["vector"]
    else:  # stored by schema 2: its title words and lead keywords stand for headline and lead
        vector = terms.vector(" ".join(data["title"]), " ".join(data["keywords"]))
    top = data.get("top")  # stored with it now: sorting the vector again made reading one of
    # an assignment's candidates 17 µs instead of 12
    return Fingerprint(vector, data["hash"],
                       bytes.fromhex(data["minhash"]) if data["minhash"] else None,
                       data["shingles"], data["at"], data.get("kind", "news"),
                       tuple(top) if top is not None else terms.top_terms(vector, TOP_TERMS),
                       frozenset(data.get("events", ())))
