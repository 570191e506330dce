"""The real database (the SQLite file, or PostgreSQL with --engine postgres): identity of items,
crash-safe progress, the outbox."""

import asyncio
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.core.dedup import fingerprint
from monitor.core.errors import Busy, LeaseLost, LockBusy, UnusableDatabase
from monitor.core.models import Alert, Article, Entry, StoryAssignment
from monitor.core.secrets import redact
from monitor.core.terms import vector
from monitor.store.feeds import entry_keys
from monitor.store.schema import SCHEMA
from monitor.store.store import SCHEMA_VERSION, Store
from tests.db import connect, fail_updates
from tests.servers import wait_for

FEED_A = "https://a.fr/rss"
FEED_B = "https://b.fr/rss"


@pytest.fixture
def store(database: str | Path):
    db = Store(database)
    db.feeds.sync([(FEED_A, "A", True), (FEED_B, "B", True)], 50.0)
    yield db
    db.close()


def entry(link: str | None, guid: str | None = None, feed: str = FEED_A, title: str = "T") -> Entry:
    return Entry(feed, guid, link, title, "résumé", datetime(2025, 11, 24, tzinfo=UTC))


def store_entries(store: Store, entries, feed: str = FEED_A, now: float = 100.0,
                  probably_new: bool = False) -> int:
    return store.feeds.record_success(feed, now=now, next_check=now + 600, etag='"e"',
                                      last_modified=None, body_hash="h", entries=entries,
                                      probably_new=probably_new)


def complete(store: Store, item_id: int, story_id=None, alerts=(),
             max_age: float = 24 * 3600.0) -> tuple[int, int]:
    article = Article("https://a.fr/1", "Tempête", "s", "texte", None, "A", "page")
    reason = "new" if story_id is None else "same-text"
    return store.items.complete(item_id, now=200.0, article=article,
                                fingerprint=fingerprint(article, 200.0),
                               assignment=StoryAssignment(story_id, reason),
                               matched=[a.rule for a in alerts], alerts=alerts, max_age=max_age)


@pytest.mark.sqlite
def test_schema_is_created_once_with_its_version(tmp_path: Path, store: Store) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Store(store.path).close()  # opening again migrates nothing and fails nothing


@pytest.mark.sqlite
def test_the_log_is_checkpointed_every_16_mb_not_every_4(store: Store) -> None:
    """A batch of completed items dirties about 1,000 pages of the story index: at SQLite's
    default (1,000 pages) nearly every commit was followed by a checkpoint."""
    with store.transaction() as db:
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 4000


@pytest.mark.sqlite
def test_a_version_1_database_is_upgraded_in_place(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1", title="Tempête sur l'Élysée")])
    (item,) = store.items.pending()
    text = " ".join(f"mot{n}" for n in range(300))
    article = Article("https://a.fr/1", "Tempête", "s", text, None, "A", "page")
    store.items.complete(item.id, now=200.0, article=article,
                         fingerprint=fingerprint(article, 200.0),
                        assignment=StoryAssignment(None, "new"), matched=[], alerts=[])
    store.close()
    with sqlite3.connect(store.path) as db:  # back to version 1: texts and fingerprints in items
        db.executescript("""
            ALTER TABLE items ADD COLUMN text TEXT; ALTER TABLE items ADD COLUMN fingerprint TEXT;
            UPDATE items SET (text, fingerprint) =
                (SELECT text, fingerprint FROM articles WHERE item_id = items.id);
            DROP TABLE articles; DROP INDEX stories_merged; DROP TABLE deliveries;
            DROP INDEX items_page_retry; ALTER TABLE items DROP COLUMN page_tries;
            ALTER TABLE items DROP COLUMN page_retry_at; ALTER TABLE items DROP COLUMN tries;
            ALTER TABLE items DROP COLUMN retry_at; ALTER TABLE items DROP COLUMN old;
            ALTER TABLE feeds DROP COLUMN warning; ALTER TABLE feeds DROP COLUMN polls;
            ALTER TABLE feeds DROP COLUMN not_modified; DROP INDEX items_feed;
            DROP INDEX items_matched; ALTER TABLE items DROP COLUMN title_words;
            ALTER TABLE stories DROP COLUMN merged_into; DROP TABLE counters;
            ALTER TABLE stories DROP COLUMN merge_seq; DROP INDEX items_done_seq;
            DROP INDEX items_leased;
            ALTER TABLE items DROP COLUMN done_seq; ALTER TABLE items DROP COLUMN lease_owner;
            ALTER TABLE items DROP COLUMN lease_until; ALTER TABLE feeds DROP COLUMN lease_owner;
            ALTER TABLE feeds DROP COLUMN lease_until; ALTER TABLE items DROP COLUMN lease_token;
            ALTER TABLE feeds DROP COLUMN lease_token; DROP TABLE instances;
            DROP INDEX feeds_due; ALTER TABLE feeds DROP COLUMN enabled;
            ALTER TABLE feeds DROP COLUMN host_rank; ALTER TABLE items DROP COLUMN story_evidence;
            DROP TABLE story_postings; ALTER TABLE stories DROP COLUMN muted_at;
            DROP TABLE feed_days;
            PRAGMA user_version = 1;""")
    upgraded = Store(store.path)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "text" not in [row[1] for row in db.execute("PRAGMA table_info(items)")]
        assert db.execute("SELECT title_words FROM items").fetchone()[0] == " tempete sur elysee "
    (candidate,) = upgraded.items.recent_candidates(since=0)
    assert candidate.fingerprint.minhash is None  # version 1's signatures are not comparable
    assert candidate.fingerprint.vector == fingerprint(article, 0).vector
    with upgraded.transaction(lock="stories"):  # its articles filed at the first completion
        assert upgraded.stories.rebuild_if_needed(since=0) == 1
    assert upgraded.stories.assign(fingerprint(article, 0), now=300.0,
                                   window=3600.0).story_id == candidate.story_id
    [(kept, _)] = upgraded.items.completed_articles(since=0)
    assert kept.text == text
    assert store_entries(upgraded, [entry("https://a.fr/1")]) == 0  # its keys kept too
    upgraded.close()


@pytest.mark.sqlite
def test_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(UnusableDatabase, match="written by a newer monitor, schema 99"):
        Store(path)


@pytest.mark.parametrize("probably_new", [False, True])  # looked up first, or found taken
def test_same_guid_or_same_url_is_the_same_item_across_feeds(store: Store, database,
                                                              probably_new: bool) -> None:
    def stored(entries, feed: str = FEED_A) -> int:
        return store_entries(store, entries, feed, probably_new=probably_new)

    assert stored([entry("https://a.fr/1"), entry("https://a.fr/2")]) == 2
    assert stored([entry("https://a.fr/1")], feed=FEED_B) == 0
    assert stored([entry("http://a.fr/2")]) == 0  # any scheme
    assert stored([entry("https://a.fr/3", guid="https://a.fr/1")]) == 0
    assert stored([entry(None, guid="42"), entry(None, guid="42", feed=FEED_B)],
                  ) == 2  # a non-URL guid is only unique within its feed
    assert [item.entry.link for item in store.items.pending()][:2] == \
        ["https://a.fr/1", "https://a.fr/2"]
    with connect(database) as db:  # nothing left of the copies: no item, no key
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 4
        assert db.execute("SELECT count(*) FROM item_keys WHERE item_id NOT IN "
                          "(SELECT id FROM items)").fetchone()[0] == 0
    assert stored([entry("https://a.fr/3")]) == 1  # the copy's own key went with it


def test_entry_keys() -> None:
    assert entry_keys(entry("https://a.fr/1", guid="7")) == ["url:a.fr/1", f"guid:{FEED_A}#7"]
    assert entry_keys(entry(None)) == [f"title:{FEED_A}#T"]
    assert entry_keys(entry(None, title="")) == []


def test_claims_take_due_feeds_host_by_host_and_only_configured_ones(store: Store) -> None:
    """Claims once took 64 feeds of one or two hosts at a time (due alike, they came in URL
    order), and per_host left most lanes idle (issue 29)."""
    feeds = [(f"https://{host}.fr/{n}.xml", f"{host} {n}", True) for host in "abc"
             for n in range(3)]
    store.feeds.sync([*feeds, ("https://d.fr/off.xml", "off", False)], 50.0)
    assert store.feeds.due(60.0, limit=4) == [
        "https://a.fr/0.xml", "https://b.fr/0.xml", "https://c.fr/0.xml", "https://a.fr/1.xml"]
    store.feeds.sync(feeds[:2], 70.0)  # the others removed from the config
    assert store.feeds.due(80.0) == ["https://a.fr/0.xml", "https://a.fr/1.xml"]


def test_feed_state_round_trip(store: Store) -> None:
    store_entries(store, [])
    state = store.feeds.get(FEED_A)
    assert (state.etag, state.body_hash, state.failures, state.next_check) == ('"e"', "h", 0, 700.0)
    store.feeds.record_failure(FEED_A, now=800.0, next_check=900.0, error="HTTP 500")
    state = store.feeds.get(FEED_A)
    assert (state.failures, state.last_error, state.etag) == (1, "HTTP 500", '"e"')
    assert store.feeds.due(850.0) == [FEED_B]
    assert store.feeds.due(950.0) == [FEED_B, FEED_A]  # most overdue first



def test_a_parsed_document_s_warning_is_kept_until_the_next_parse(store: Store) -> None:
    def poll(parsed: bool, warning: str | None = None) -> str | None:
        store.feeds.record_success(FEED_A, now=100.0, next_check=200.0, etag=None,
                                   last_modified=None, body_hash="h", parsed=parsed,
                                   warning=warning)
        return store.feeds.get(FEED_A).warning

    assert poll(True, "mismatched tag (line 3)") == "mismatched tag (line 3)"
    assert poll(False) == "mismatched tag (line 3)"  # a 304, or the same bytes: not read again
    assert poll(True) is None  # read again, and well formed now

def test_pending_items_survive_a_restart_until_completed(store: Store, tmp_path: Path) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    store.close()
    reopened = Store(store.target)
    (item,) = reopened.items.pending()
    assert item.outlet == "A" and item.entry.summary == "résumé"
    assert item.entry.published == datetime(2025, 11, 24, tzinfo=UTC)
    complete(reopened, item.id)
    assert reopened.items.pending() == []
    store._db = reopened._db  # let the fixture close it


def test_alerts_are_queued_once_per_story_and_channel(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1"), entry("https://b.fr/1"), entry("https://b.fr/2")])
    first, second, third = store.items.pending()
    alerts = [Alert("r", "ops", "T", {"title": "T"}), Alert("r", "mail", "T", {"title": "T"})]
    story, queued = complete(store, first.id, alerts=alerts)
    assert queued == 2
    same_story, queued_again = complete(store, second.id, story_id=story,
                                        alerts=[Alert("other-rule", "ops", "T", {"title": "T"})])
    assert (same_story, queued_again) == (story, 0)
    followups = [Alert("r", "ops", "Suite", {"title": "Suite"}, kind="followup", outlet="B")]
    assert complete(store, third.id, story_id=story, alerts=followups)[1] == 1
    with pytest.raises(LeaseLost):  # an item is completed once
        complete(store, third.id, story_id=story, alerts=followups)
    article = Article("https://b.fr/2", "Suite", "s", "texte complet", None, "B", "page")
    assert store.items.refresh_article(  # its page, fetched at last, queues it no second time
        third.id, story_id=story, now=300.0, article=article,
        fingerprint=fingerprint(article, 300.0), matched=["r"], alerts=followups,
        max_age=3600.0) == 0
    assert sorted((a.channel, a.title) for a in store.outbox.due(300.0)) == \
        [("mail", "T"), ("ops", "Suite"), ("ops", "T")]


def test_an_article_bridging_two_stories_merges_them(store: Store) -> None:
    store_entries(store, [entry(f"https://a.fr/{n}") for n in range(3)])
    first, second, third = store.items.pending()
    one, _ = complete(store, first.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    two, _ = complete(store, second.id, alerts=[Alert("s", "mail", "T", {"title": "T"})])
    article = Article("https://a.fr/2", "Tempête", "s", "texte", None, "A", "page")
    store.items.complete(third.id, now=300.0, article=article,
                         fingerprint=fingerprint(article, 300.0),
                        assignment=StoryAssignment(one, "similar-words", 0.5, (two,)),
                        matched=[], alerts=[])
    assert {c.story_id for c in store.items.recent_candidates(since=0)} == {one}
    assert store.items.story_channels(one) == {"ops": ("r", "normal"), "mail": ("s", "normal")}
    (listed,) = store.items.stories(since=0)  # the merged story is listed no more
    assert (listed["id"], len(listed["articles"])) == (one, 3)


def test_a_muted_story_mutes_its_unsent_alerts_and_the_story_it_merges_into(
        store: Store) -> None:
    store_entries(store, [entry(f"https://a.fr/{n}") for n in range(4)])
    first, second, third, fourth = store.items.pending()
    one, _ = complete(store, first.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    two, _ = complete(store, second.id, alerts=[Alert("s", "mail", "T", {"title": "T"})])
    (sending,) = [a for a in store.outbox.due(300.0, lease=60.0) if a.channel == "ops"]
    store.outbox.mark_sent([sending.id], now=301.0)
    three, _ = complete(store, third.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    assert store.items.mute(two, now=400.0) == (two, 1)  # its headline, never sent
    assert store.items.muted_stories([one, two, three]) == {two}
    assert [a.channel for a in store.outbox.due(500.0)] == ["ops"]  # story three's only
    assert [r.channel for r in store.outbox.rows(state="muted", since=0, now=500.0)] == ["mail"]
    assert store.outbox.requeue(now=500.0, max_age=60.0, dead=True) == 0  # not by a bulk retry
    assert store.items.mute(one, now=400.0) == (one, 0)  # its alert went out before
    assert store.items.mute(one, now=401.0, muted=False) == (one, 0)
    assert store.items.muted_stories([one, two]) == {two}
    assert store.items.mute(999, now=400.0) is None
    article = Article("https://a.fr/3", "Tempête", "s", "texte", None, "A", "page")
    store.items.complete(fourth.id, now=600.0, article=article,
                         fingerprint=fingerprint(article, 600.0),
                         assignment=StoryAssignment(one, "similar-words", 0.5, (two,)),
                         matched=[], alerts=[])
    assert store.items.muted_stories([one]) == {one}  # what joins a muted story stays muted
    assert store.items.mute(two, now=700.0, muted=False) == (one, 0)  # merged: the live one
    assert store.items.muted_stories([one, two]) == frozenset()
    assert [s["muted"] for s in store.items.stories(since=0)] == [False, False]


def test_stories_are_listed_by_their_first_article_s_news_time_latest_first(
        store: Store) -> None:
    day = datetime(2025, 11, 24, tzinfo=UTC)
    store_entries(store, [Entry(FEED_A, None, f"https://a.fr/{n}", "T", "s",
                                day.replace(hour=hour)) for n, hour in enumerate((9, 6, 10))],
                  now=day.replace(hour=12).timestamp())
    first, second, third = store.items.pending()
    later_news, _ = complete(store, first.id)  # published at 9:00, the first story made
    earlier_news, _ = complete(store, second.id)  # published at 6:00
    complete(store, third.id, story_id=later_news)  # published at 10:00
    listed = store.console.recent_stories(since=0)
    assert [story.id for story in listed] == [later_news, earlier_news]
    assert listed[0].times == (day.replace(hour=9).timestamp(), day.replace(hour=10).timestamp())
    assert [story.id for story in store.console.recent_stories(since=0, order="taille")] == [
        later_news, earlier_news]


def test_polls_per_day_add_up_and_go_with_the_retention(store: Store) -> None:
    store.feeds.count_polls([(FEED_A, 100, 3, 1), (FEED_B, 100, 2, 0)])
    store.feeds.count_polls([(FEED_A, 100, 1, 1), (FEED_A, 101, 4, 0)])
    assert store.console.feed_days(100) == {FEED_A: {100: (4, 2), 101: (4, 0)},
                                            FEED_B: {100: (2, 0)}}
    assert store.console.feed_days(101) == {FEED_A: {101: (4, 0)}}
    store.prune(before=109 * 86400.0)  # kept 8 days past the retention: day 100 goes
    assert store.console.feed_days(0) == {FEED_A: {101: (4, 0)}}


def test_polls_per_day_are_written_all_or_none(store: Store) -> None:
    """A refused pass is counted again later (`PollTally.put_back`): none of it may stay."""
    with pytest.raises(Exception):  # noqa: B017 (SQLite's IntegrityError, or psycopg's)
        store.feeds.count_polls([(FEED_A, 100, 3, 1), (FEED_B, 100, None, 0)])
    assert store.console.feed_days(0) == {}


def test_outbox_retry_and_dead_letter(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T", "rule": "r"}, "high")])
    (alert,) = store.outbox.due(300.0)
    assert (alert.payload, alert.priority, alert.batch, alert.expires_at) == \
        ({"title": "T", "rule": "r"}, "high", False, 200.0 + 24 * 3600)
    store.outbox.mark_failed([alert.id], error="boom", retry_at=400.0)
    assert store.outbox.due(399.0) == []
    (retried,) = store.outbox.due(400.0)
    assert retried.attempts == 1
    assert [(r.state, r.last_error) for r in store.outbox.rows(state="failed", since=0,
                                                               now=399.0)] == [("failed", "boom")]
    assert store.outbox.rows(state="failed", since=0, now=400.0) == []  # due: pending again
    assert [r.state for r in store.outbox.rows(state="pending", since=0, now=400.0)] == \
        ["pending"]
    store.outbox.mark_failed([alert.id], error="boom again", retry_at=None)
    assert store.outbox.due(10_000.0) == []
    (row,) = store.outbox.rows(state="dead", since=0, now=0)
    assert (row.id, row.attempts, row.last_error) == (alert.id, 2, "boom again")
    assert store.outbox.requeue(now=20_000.0, max_age=3600.0, dead=True) == 1
    (again,) = store.outbox.due(20_000.0)
    assert again.expires_at == 23_600.0
    store.outbox.mark_failed([alert.id], error="boom, last", retry_at=None)  # dead once more
    assert store.outbox.statuses([alert.id, 999]) == {alert.id: "dead"}
    store.feeds.set_stale(FEED_B, stale_since=1.0, now=20_000.0, max_age=60.0, alerts=[
        Alert("feed-silent", "ops", "Silence", {"title": "Silence"})])  # no story: an operation
    (silent,) = store.outbox.due(20_000.0)
    assert silent.story_id == 0
    store.outbox.mark_failed([silent.id], error="down", retry_at=None)
    assert store.outbox.requeue(now=30_000.0, max_age=60.0, ids=[alert.id, 999]) == 1
    assert store.outbox.statuses([silent.id]) == {silent.id: "dead"}  # only those named
    assert store.outbox.statuses([alert.id]) == {alert.id: "pending"}
    (by_id,) = store.outbox.due(30_000.0)
    assert (by_id.id, by_id.expires_at, by_id.channel, by_id.rule, by_id.title) == \
        (alert.id, 30_060.0, "ops", "r", "T")
    store.outbox.mark_sent([alert.id], now=30_001.0)
    assert store.outbox.requeue(now=30_002.0, max_age=60.0, ids=[alert.id]) == 0  # never twice
    listed, _ = store.outbox.rows(state=None, since=0, now=30_003.0)  # newest first
    assert (listed.id, listed.state, listed.channel, listed.rule, listed.title) == \
        (silent.id, "dead", "ops", "feed-silent", "Silence")
    (sent,) = store.outbox.rows(state="sent", since=0, now=30_003.0)
    assert (sent.id, sent.channel, sent.rule, sent.title) == (alert.id, "ops", "r", "T")


def test_follow_ups_are_one_per_item_and_payloads_stay_readable(store: Store, database) -> None:
    store_entries(store, [entry(f"https://a.fr/{n}") for n in (1, 2, 3)])
    first, second, third = store.items.pending()
    story, _ = complete(store, first.id, alerts=[Alert("r", "ops", "Élysée", {"title": "Élysée"})])
    follow = Alert("r", "ops", "Aussi repris", {"title": "Aussi repris par Libé"},
                   kind="followup", outlet="Libé")
    assert complete(store, second.id, story, alerts=[follow]) == (story, 1)
    assert complete(store, third.id, story, alerts=[follow]) == (story, 1)  # another item's
    with connect(database) as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM alerts ORDER BY id")]
    assert len(payloads) == 3 and '"Élysée"' in payloads[0]  # stored readable, not \u00c9
    assert "Libé" in payloads[1]


def test_a_sender_paused_past_its_lease_marks_and_holds_nothing(store: Store, database) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    other = Store(database)
    try:
        (mine,) = store.outbox.due(300.0, lease=60.0)
        (theirs,) = other.outbox.due(361.0, lease=60.0)  # this one froze past its lease
        store.outbox.mark_sent([mine.id], now=362.0)
        store.outbox.hold([mine.id], until=9_000.0, max_age=60.0)
        (row,) = other.outbox.rows(state=None, since=0, now=362.0)
        assert (row.id, row.state, row.next_attempt) == (theirs.id, "pending", 200.0)
        assert row.created_at == 200.0
    finally:
        other.close()


def test_hold_for_a_digest(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    (alert,) = store.outbox.due(300.0)
    store.outbox.hold([alert.id], until=5000.0, max_age=3600.0)
    assert store.outbox.due(4999.0) == []
    (held,) = store.outbox.due(5000.0)
    assert held.batch
    store.outbox.mark_sent([held.id], 5001.0)
    assert store.outbox.rows(state="sent", since=0, now=0)[0].delivered_at == 5001.0


def test_a_held_alert_ages_from_when_it_falls_due(store: Store) -> None:
    """Held at 22:00 for the 08:00 digest with a 6 h age limit: still alive at 08:00 (a failure
    then is retried), dead only 6 h after it fell due."""
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    hour = 3600.0
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})], max_age=6 * hour)
    (alert,) = store.outbox.due(300.0)
    store.outbox.hold([alert.id], until=10 * hour, max_age=6 * hour)
    assert store.outbox.expire(10 * hour) == []
    (held,) = store.outbox.due(10 * hour)
    assert held.expires_at == 16 * hour
    assert store.outbox.expire(16 * hour) == [alert.id]
    (dead,) = store.outbox.rows(state="dead", since=0, now=0)
    assert dead.last_error.startswith("expired")


def test_recent_candidates_respect_the_window(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    story, _ = complete(store, item.id)
    (candidate,) = store.items.recent_candidates(since=150.0)
    assert candidate.story_id == story
    assert set(candidate.fingerprint.vector) == {"tempet", "text"}  # headline and lead
    assert candidate.fingerprint.at == 200.0
    assert store.items.recent_candidates(since=250.0) == []


def test_story_lookups(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1"), entry("https://b.fr/2")])
    first, second = store.items.pending()
    story, _ = complete(store, first.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    assert store.items.story_channels(story) == {"ops": ("r", "normal")}
    assert store.items.story_outlets(story) == {"A"}
    # the first item is known by its address: a page naming it as canonical joins its story
    assert store.items.story_of_url("https://www.a.fr/1?utm_source=x", other_than=second.id) == story
    assert store.items.story_of_url("https://a.fr/1", other_than=first.id) is None
    (listed,) = store.items.stories(since=0)
    assert (listed["id"], listed["title"], len(listed["articles"])) == (story, "Tempête", 1)
    assert listed["articles"][0]["joined_by"] == "new"


def test_retention_slims_old_articles_but_remembers_them(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    (alert,) = store.outbox.due(300.0)
    store.outbox.mark_sent([alert.id], 300.0)
    assert store.prune(before=100.0) == (0, 0)  # nothing that old yet
    assert store.prune(before=1000.0) == (1, 1)
    with connect(store.target) as db:
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone() == (0,)
        assert db.execute("SELECT summary FROM items").fetchone() == ("",)
    assert store.items.recent_candidates(since=0) == []
    assert store_entries(store, [entry("https://a.fr/1")]) == 0  # still known: not new again


@pytest.mark.sqlite
def test_a_version_2_database_keeps_its_alerts_and_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    # no deliveries table before version 4, no counters before 10
    v2 = SCHEMA[SCHEMA.index("CREATE TABLE stories"):SCHEMA.index("-- Which target")]
    v2 = v2[:v2.index("CREATE TABLE feed_days")] + v2[v2.index("CREATE INDEX stories_merged"):]
    v2 = v2.replace("    processed_at REAL,\n", "    processed_at REAL\n")
    v2 = v2.replace("    added_at REAL,\n", "    added_at REAL\n")
    v2 = "\n".join(line for line in v2.splitlines()  # nor page retries (5), item retries (6)
                   if not any(column in line for column in (
                       "page_", " tries ", " retry_at ", " old ", " warning", " polls ",
                       " not_modified ", "items_feed", "items_matched", "title_words", "lease_",
                       "_seq", " enabled ", " host_rank ", "story_evidence", "muted_at"))
                   ) + "\n"
    v2 = v2.replace("    merged_into INTEGER,  -- set when a later article bridged it into an "
                    "older story\n", "")
    v2 = v2.replace("last_seen REAL NOT NULL,\n", "last_seen REAL NOT NULL\n")
    v2 = v2.replace("    subject TEXT NOT NULL DEFAULT '',  -- '' for a story's alert, the item's id "
                    "for a follow-up\n    UNIQUE (story_id, channel, kind, subject)  -- one alert "
                    "per story and channel\n", "    UNIQUE (story_id, rule, channel, kind, outlet)\n")
    v2 = v2.replace("CREATE INDEX stories_merged ON stories(merged_into) WHERE merged_into IS NOT "
                    "NULL;\n", "")
    v2 = v2[:v2.index("-- The story index")] + v2[v2.index("CREATE TABLE item_keys"):]
    assert "merged_into" not in v2 and "subject" not in v2
    with sqlite3.connect(path) as db:
        db.executescript(v2 + """
            INSERT INTO feeds (url, name) VALUES ('https://a.fr/rss', 'A');
            INSERT INTO stories (id, title, first_seen, last_seen) VALUES (1, 'Tempête', 1, 1);
            INSERT INTO items (id, feed_url, title, summary, seen_at, state, story_id,
                               processed_at) VALUES (1, 'https://a.fr/rss', 'Tempête', 's', 1,
                               'done', 1, 100);
            INSERT INTO articles VALUES (1, 'texte', '{"title": ["tempete"], "hash": null,
                "minhash": null, "shingles": 0, "at": 1.0, "names": [], "keywords": ["vent"]}');
            INSERT INTO alerts (story_id, item_id, rule, channel, title, payload, next_attempt,
                                expires_at, created_at)
                VALUES (1, 1, 'r', 'ops', 'T', '{}', 1, 9e9, 1), (1, 1, 's', 'ops', 'T', '{}', 1,
                        9e9, 1);
            PRAGMA user_version = 2;""")
    store = Store(path)
    try:
        assert len(store.outbox.due(10.0)) == 2  # both kept, though one story and one channel
        (candidate,) = store.items.recent_candidates(since=0)
        assert candidate.fingerprint.vector == vector("tempete", "vent")
        assert candidate.fingerprint.kind == "news"
    finally:
        store.close()


def test_claimed_work_is_no_one_elses_until_its_lease_ends(store: Store, database) -> None:
    other = Store(database)  # a second instance
    try:
        assert store.feeds.due(100.0, lease=60.0, limit=1) == [FEED_A]
        assert other.feeds.due(100.0, lease=60.0) == [FEED_B]
        assert other.feeds.due(150.0, lease=60.0) == []
        assert other.feeds.due(161.0, lease=60.0, limit=1) == [FEED_A]  # its owner died
        other.feeds.record_failure(FEED_A, now=170.0, next_check=170.0, error="HTTP 500")
        assert store.feeds.due(171.0, lease=60.0) == [FEED_B, FEED_A]  # B's ended; A given back

        store_entries(store, [entry("https://a.fr/1"), entry("https://a.fr/2")])
        (first,) = store.items.pending(1, now=200.0, lease=60.0)
        (second,) = other.items.pending(now=200.0, lease=60.0)
        assert first.id != second.id
        assert store.items.pending(now=250.0) == []  # a reader sees neither while leased
        complete(other, second.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
        (alert,) = store.outbox.due(300.0, lease=60.0)
        assert other.outbox.due(300.0, lease=60.0) == []
        other.leases.release()  # the other stops: what it held is free at once
        store.leases.release()
        assert [a.id for a in other.outbox.due(300.0, lease=60.0)] == [alert.id]
        assert [i.id for i in other.items.pending(now=300.0, lease=60.0)] == [first.id]
    finally:
        other.close()


def test_the_same_article_stored_by_two_instances_at_once_is_one_item(database) -> None:
    first, second = Store(database), Store(database)
    try:
        first.feeds.sync([(FEED_A, "A", True), (FEED_B, "B", True)], 50.0)
        with first.transaction():  # the first has stored it and not yet committed
            assert store_entries(first, [entry("https://a.fr/1", feed=FEED_A)]) == 1
            if first.engine == "postgres":  # the second waits for the commit, then finds it
                import threading  # taken (stored first, it would make two items)
                result: list[int] = []
                racer = threading.Thread(target=lambda: result.append(store_entries(
                    second, [entry("https://a.fr/1", "https://a.fr/autre", feed=FEED_B)])))
                racer.start()
                wait_for(lambda: waiting_on_a_lock(database))  # on the first's key
        if first.engine == "postgres":
            racer.join(30)
            assert result == [0]
        assert store_entries(second, [entry("https://a.fr/1", feed=FEED_B)]) == 0
        assert len(second.items.pending()) == 1
        # the copy's other key went with it: an article at that URL is new, not taken for known
        assert store_entries(second, [entry("https://a.fr/autre", feed=FEED_B)]) == 1
    finally:
        first.close()
        second.close()


def waiting_on_a_lock(database: str) -> bool:
    import psycopg

    with psycopg.connect(database) as db:
        row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                         "AND datname = current_database()").fetchone()
        return bool(row and row[0])


def test_an_unreachable_server_is_one_line_without_its_password() -> None:
    from tests.servers import free_port

    url = f"postgresql://veille:s3cr3t-pw@127.0.0.1:{free_port()}/monitor"
    with pytest.raises(UnusableDatabase) as error:
        Store(url)
    message = str(error.value)
    assert message.startswith(f"postgresql://veille:***@127.0.0.1:{url.split(':')[3]}")
    assert "Connection refused" in message and "s3cr3t" not in message
    assert message.endswith("check that the server is up and its address, user and password")


def test_renewal_keeps_this_process_leases_only(store: Store, database) -> None:
    """Renewal once could renew nothing, or every instance's leases, and no test saw it."""
    other = Store(database)
    try:
        assert store.feeds.due(100.0, lease=60.0, limit=1) == [FEED_A]
        assert other.feeds.due(100.0, lease=60.0) == [FEED_B]
        assert store.leases.renew(150.0, 60.0) == 1
        assert store.feeds.due(170.0, lease=60.0) == [FEED_B]  # not renewed: free
        assert other.feeds.due(170.0, lease=60.0) == []  # A renewed: still the first's
    finally:
        other.close()


def test_a_process_starting_under_a_dead_one_s_name_takes_its_leases_back(database) -> None:
    """A process killed with work claimed: its successor (the same instance name; on SQLite,
    the file's next process) releases those leases at start, instead of waiting them out."""
    dead = Store(database, instance="veille")
    dead.feeds.sync([(FEED_A, "A", True), (FEED_B, "B", True)], 50.0)
    assert dead.feeds.due(100.0, lease=600.0) == [FEED_A, FEED_B]
    dead.close()  # killed: nothing given back
    successor = Store(database, instance="veille")
    try:
        assert successor.feeds.due(110.0, lease=600.0) == []  # still the dead one's
        successor.leases.start_instance(wait=5.0)
        assert successor.feeds.due(110.0, lease=600.0) == [FEED_A, FEED_B]
        successor.leases.settle("feeds", ["https://never.claimed/rss"])  # nothing to settle
    finally:
        successor.close()


@pytest.mark.sqlite
def test_the_next_process_of_a_sqlite_file_releases_every_lease_left(tmp_path: Path) -> None:
    """The file is one process's at a time (its lock): whatever name the last one had, the
    leases it left are nobody's now."""
    dead = Store(tmp_path / "m.db", instance="ancienne")
    dead.feeds.sync([(FEED_A, "A", True)], 50.0)
    assert dead.feeds.due(100.0, lease=600.0) == [FEED_A]
    dead.close()
    successor = Store(tmp_path / "m.db", instance="veille")
    try:
        successor.leases.start_instance()
        assert successor.feeds.due(110.0, lease=600.0) == [FEED_A]
    finally:
        successor.close()


def test_a_process_paused_past_its_lease_finishes_nothing(store: Store, database) -> None:
    """Fencing: work claimed again by another instance is finished by that one only, whatever
    the paused one does on waking (defect 3 of issue 22: it re-completed an item)."""
    other = Store(database)
    try:
        assert store.feeds.due(100.0, lease=60.0, limit=1) == [FEED_A]
        assert other.feeds.due(161.0, lease=60.0, limit=1) == [FEED_A]  # the first froze
        with pytest.raises(LeaseLost, match=f"^feed {FEED_A}: claimed again by another inst"):
            store_entries(store, [entry("https://a.fr/1")], now=170.0)
        with pytest.raises(LeaseLost):
            store.feeds.record_failure(FEED_A, now=170.0, next_check=170.0, error="HTTP 500")
        assert store.items.pending() == []  # the loser stored nothing
        assert store.feeds.get(FEED_A).last_error is None
        assert store_entries(other, [entry("https://a.fr/1")], now=170.0) == 1

        (item,) = store.items.pending(now=200.0, lease=60.0)
        assert [i.id for i in other.items.pending(now=261.0, lease=60.0)] == [item.id]
        complete(other, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
        with pytest.raises(LeaseLost):
            complete(store, item.id, alerts=[Alert("r", "mail", "T", {"title": "T"})])
        store.items.failed(item.id, 270.0, 60.0, 3600.0)  # nor does it count a failure
        with connect(database) as db:
            assert db.execute("SELECT channel FROM alerts").fetchall() == [("ops",)]
            assert db.execute("SELECT tries FROM items").fetchall() == [(0,)]

        (alert,) = store.outbox.due(300.0, lease=60.0)
        assert store.leases.hold_on("alerts", [alert.id], 310.0, 60.0)  # held: sent now
        assert other.outbox.due(361.0, lease=60.0) == []  # hold_on made it last to 370
        assert [a.id for a in other.outbox.due(371.0, lease=60.0)] == [alert.id]
        assert not store.leases.hold_on("alerts", [alert.id], 372.0, 60.0)  # lost: not sent
        store.outbox.mark_failed([alert.id], error="late", retry_at=None)  # nor marked
        assert store.outbox.statuses([alert.id]) == {alert.id: "pending"}
        other.outbox.mark_sent([alert.id], 372.0)
        assert other.outbox.statuses([alert.id]) == {alert.id: "sent"}
    finally:
        other.close()


def test_settled_work_is_renewed_no_more(store: Store) -> None:
    """A write that failed once left its feed leased for good: renewal renewed every row the
    process owned (defect 2 of issue 22). Only work in progress is renewed now."""
    assert store.feeds.due(100.0, lease=60.0) == [FEED_A, FEED_B]
    assert store.leases.renew(120.0, 60.0) == 2
    store.leases.settle("feeds", [FEED_A])  # its poll could not be recorded
    assert store.leases.renew(140.0, 60.0) == 1
    assert store.feeds.due(181.0, lease=60.0) == [FEED_A]  # its lease ended


def test_a_stopping_process_gives_back_its_own_leases_only(store: Store, database) -> None:
    other = Store(database)
    try:
        feed_c = "https://c.fr/rss"  # not polled here: its item only
        store_entries(store, [entry("https://c.fr/1", feed=feed_c)], feed=feed_c)
        assert store.feeds.due(100.0, lease=60.0, limit=1) == [FEED_A]
        assert len(store.items.pending(now=100.0, lease=60.0)) == 1
        assert other.feeds.due(100.0, lease=60.0) == [FEED_B]
        assert store.leases.renew(110.0, 60.0) == 2  # a feed and an item: every table counts
        store.leases.release()
        assert store.feeds.due(120.0, lease=60.0) == [FEED_A]  # B is still the other's
        assert store.leases.renew(130.0, 60.0) == 1  # only what it claimed since
    finally:
        other.close()


def test_alerts_held_by_an_instance_are_not_demoted_dropped_or_expired(store: Store) -> None:
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"}),
                                     Alert("r", "mail", "T", {"title": "T"})], max_age=100.0)
    ops, mail = sorted(store.outbox.due(250.0, lease=60.0), key=lambda a: a.channel != "ops")
    store.outbox.drop(ops.id, 260.0)
    store.outbox.demote(mail.id, item.id, "Suite", {"title": "Suite"}, None, 260.0)
    assert store.outbox.expire(301.0) == []  # past its age, but being sent
    assert store.outbox.statuses([ops.id, mail.id]) == {ops.id: "pending", mail.id: "pending"}
    assert {a.title for a in store.outbox.due(311.0)} == {"T"}
    store.outbox.drop(ops.id, 311.0)  # free again: its lease ended
    assert store.outbox.expire(311.0) == [mail.id]


def test_the_heartbeat_is_a_real_write_and_says_why_it_failed(store: Store, database) -> None:
    """/healthz said ok on a full disk: its probe began a transaction and rolled it back,
    writing nothing (defect 6 of issue 22). A write that fails is reported with its reason."""
    assert store.beat(100.0) is None
    with connect(database) as db:
        assert db.execute("SELECT instance, beat_at FROM instances").fetchall() == [
            (store.instance, 100.0)]
        fail_updates(db, "instances", "beat_at")
    problem = store.beat(130.0)
    assert problem is not None and "database or disk is full" in problem


def test_an_instance_name_lost_with_its_connection_is_taken_back_or_given_up(
        postgres_url: str) -> None:
    """After a server restart (here: its connection killed) the session lock on the instance
    name was gone unseen, and a second process of that name worked beside the first
    (defect 5 of issue 22)."""
    import psycopg

    def kill_name_connection(store: Store) -> None:
        pid = store._db._held.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(lambda: admin.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s",
                                           (pid,)).fetchone() == (0,))  # its locks freed

    first = Store(postgres_url, instance="veille")
    second = Store(postgres_url, instance="veille")
    try:
        first.leases.start_instance()
        kill_name_connection(first)
        first.leases.keep_name()  # nobody took it: taken back
        with pytest.raises(Busy):
            second.leases.start_instance(wait=0)
        kill_name_connection(first)
        second.leases.start_instance(wait=0)  # free meanwhile: the second has it now
        with pytest.raises(Busy, match="^" + re.escape(
                f"{redact(postgres_url)}: this process lost the instance name 'veille' to "
                "another process (after a database restart?); it stops, leaving the work to "
                "that one") + "$"):
            first.leases.keep_name()
    finally:
        first.close()
        second.close()


def test_a_second_process_under_a_live_name_waits_for_it_then_says_why(
        postgres_url: str) -> None:
    """Started while another process of its name runs (a restart that overlaps the old one's
    exit), it waits for that one to go, then takes the name; still taken at the end of its
    wait, it says so in one line naming the database (its password hidden)."""
    import threading

    first = Store(postgres_url, instance="veille")
    second = Store(postgres_url, instance="veille")
    try:
        first.leases.start_instance()
        with pytest.raises(Busy) as refused:
            second.leases.start_instance(wait=0.2, poll=0.05)
        assert str(refused.value) == (
            f"{redact(postgres_url)}: another monitor named 'veille' is running on this "
            "database; give this one another `instance:` name")
        threading.Timer(0.3, first.close).start()  # the old one exits while the new one waits
        second.leases.start_instance(wait=60.0, poll=0.05)
        second.leases.keep_name()  # it holds the name now
    finally:
        first.close()
        second.close()


def test_a_transaction_left_open_by_a_paused_process_stalls_no_one(postgres_url: str) -> None:
    """A process frozen inside a transaction that holds the stories lock kept every other
    waiting for the whole freeze (defect 1 of issue 22): the wait is bounded by the lease's
    lock timeout, and the server ends the frozen transaction, which frees the lock."""
    import psycopg

    paused, other = Store(postgres_url, lease=8.0), Store(postgres_url, lease=8.0)
    frozen = paused.transaction(lock="stories")
    frozen.__enter__()  # and then nothing, as under SIGSTOP
    try:
        # refused after the lock timeout (1 s here), not after the freeze; meanwhile the
        # daemon's event loop runs
        assert asyncio.run(_ticks_while_waiting(other)) > 10
        wait_for(lambda: _lock_free(other), timeout=10)  # the server ended it after 2 s idle
        with pytest.raises(psycopg.Error, match="idle-in-transaction"):
            frozen.__exit__(None, None, None)  # on waking, its work is refused
    finally:
        paused.close()
        other.close()


async def _ticks_while_waiting(store: Store) -> int:
    """How often another task ran while `store` waited in vain for the stories lock."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.02)

    def take_the_lock() -> None:
        with store.transaction(lock="stories"):
            pass

    ticker = asyncio.create_task(tick())
    with pytest.raises(LockBusy):
        await store.call(take_the_lock)  # as the daemon's runners do: on a database thread
    ticker.cancel()
    return ticks


def _lock_free(store: Store) -> bool:
    try:
        with store.transaction(lock="stories"):
            return True
    except Exception:
        return False


def test_a_demoted_headline_is_its_items_follow_up_held_for_the_digest(store: Store) -> None:
    """What `demote` writes and `due` reads back, field by field (mutants changing a field of
    either survived)."""
    store.feeds.set_stale(FEED_B, stale_since=1.0, now=1.0, max_age=1.0, alerts=[
        Alert("feed-silent", "ops", "S", {"title": "S"})])  # alert 1: the headline is not
    store.outbox.mark_sent([alert.id for alert in store.outbox.due(1.0)], now=1.0)
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    story, _ = complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
    (headline,) = [alert for alert in store.outbox.due(250.0) if alert.rule == "r"]
    assert headline.id != item.id  # the follow-up is known by its item, not by its alert
    assert (headline.rule, headline.story_id, headline.batch) == ("r", story, False)
    store.outbox.demote(headline.id, item.id, "Suite", {"title": "Suite « é »"}, 400.0, 260.0)
    assert store.outbox.due(399.0) == []  # held until the digest
    (followup,) = [alert for alert in store.outbox.due(400.0) if alert.rule == "r"]
    assert (followup.title, followup.payload, followup.batch, followup.story_id) == (
        "Suite", {"title": "Suite « é »"}, True, story)
    with connect(store.target) as db:
        assert db.execute("SELECT kind, subject FROM alerts WHERE rule = 'r'").fetchall() == [
            ("followup", str(item.id))]
        assert "« é »" in db.execute("SELECT payload FROM alerts WHERE rule = 'r'").fetchone()[0]


def test_an_alert_whose_payload_no_longer_decodes_is_dead_lettered_alone(
        store: Store, database) -> None:
    """One stored payload no longer decodes (a failing disk, an older writer): that alert is
    dead-lettered with the reason, not renewed, and the alert beside it still goes out; the
    next pass does not meet the broken one again."""
    store_entries(store, [entry("https://a.fr/1")])
    (item,) = store.items.pending()
    complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"}),
                                     Alert("r", "mail", "T", {"title": "T"}),
                                     Alert("r", "chat", "T", {"title": "T"})])
    with connect(database) as db:
        ids = dict(db.execute("SELECT channel, id FROM alerts").fetchall())
        db.execute("UPDATE alerts SET payload = ? WHERE id = ?", ("{not json", ids["ops"]))
        db.execute("UPDATE alerts SET payload = ? WHERE id = ?", ("[1]", ids["chat"]))
    (alert,) = store.outbox.due(300.0, lease=60.0)
    assert (alert.channel, alert.payload) == ("mail", {"title": "T"})
    assert store.leases.renew(301.0, 60.0) == 1  # the good one only
    dead = {row.id: row.last_error for row in store.outbox.rows(state="dead", since=0, now=302.0)}
    assert dead.keys() == {ids["ops"], ids["chat"]}
    assert (dead[ids["ops"]] or "").startswith("payload does not decode: Expecting")
    assert dead[ids["chat"]] == "payload does not decode: a JSON list, not an object"
    store.outbox.mark_sent([alert.id], 302.0)
    assert store.outbox.due(400.0, lease=60.0) == []


def test_alerts_claimed_but_never_read_are_not_held_on(tmp_path: Path) -> None:
    """The claim is written, then the claimed rows cannot be read back (SQLite refuses a title
    whose bytes are not UTF-8, as a failing disk can leave it): the caller never learns their
    ids, so this process must not renew them; their lease ends and another pass takes them."""
    store = Store(tmp_path / "monitor.db")
    try:
        store.feeds.sync([(FEED_A, "A", True)], 50.0)
        store_entries(store, [entry("https://a.fr/1")])
        (item,) = store.items.pending()
        complete(store, item.id, alerts=[Alert("r", "ops", "T", {"title": "T"})])
        with sqlite3.connect(tmp_path / "monitor.db") as db:
            db.execute("UPDATE alerts SET title = CAST(X'ff' AS TEXT)")
        with pytest.raises(sqlite3.OperationalError, match="UTF-8"):
            store.outbox.due(300.0, lease=60.0)
        assert store.leases.renew(301.0, 60.0) == 0  # not kept alive for ever by this process
        with sqlite3.connect(tmp_path / "monitor.db") as db:
            db.execute("UPDATE alerts SET title = 'T'")
        (alert,) = store.outbox.due(361.0, lease=60.0)  # taken again once the lease has ended
        assert alert.title == "T"
    finally:
        store.close()


def test_a_poll_asked_for_while_one_runs_is_not_undone_by_its_record(store: Store) -> None:
    """`monitor feeds poll` while that feed's poll is in flight: the poll's record (next check
    in an hour) used to overwrite the « due now » it set, and the asked-for poll never came."""
    (claimed,) = [state for state in store.feeds.claim_due(100.0, lease=60.0)
                  if state.url == FEED_A]
    store.feeds.due_now(FEED_A, 110.0)  # asked by a user meanwhile
    store.feeds.record_success(FEED_A, now=120.0, next_check=3720.0, etag=None,
                               last_modified=None, body_hash="h", claimed_due=claimed.next_check)
    assert store.feeds.get(FEED_A).next_check == 110.0
    (again,) = [state for state in store.feeds.claim_due(130.0, lease=60.0)
                if state.url == FEED_A]  # polled at the next tick, and then scheduled as usual
    store.feeds.record_failure(FEED_A, now=140.0, next_check=3740.0, error="503",
                               claimed_due=again.next_check)
    assert store.feeds.get(FEED_A).next_check == 3740.0
