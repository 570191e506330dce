"""`monitor migrate`: a SQLite database moved whole into PostgreSQL, ids and all."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.core.dedup import fingerprint
from monitor.core.models import Alert, Article, Entry, StoryAssignment
from monitor.store.store import Store

FEED = "https://a.fr/rss"


def filled(path: Path) -> Store:
    store = Store(path)
    store.feeds.sync([(FEED, "A", True)], 50.0)
    store.feeds.record_success(FEED, now=100.0, next_check=700.0, etag='"e"', last_modified=None,
                               body_hash="h", entries=[
                                   Entry(FEED, None, f"https://a.fr/{n}", f"Titre {n}", "résumé",
                                         datetime(2025, 11, 24, tzinfo=UTC)) for n in range(3)])
    first, *_ = store.items.pending()
    article = Article("https://a.fr/0", "Titre 0", "s", "texte de l'article", None, "A", "page")
    store.items.complete(first.id, now=200.0, article=article,
                         fingerprint=fingerprint(article, 200.0),
                        assignment=StoryAssignment(None, "new"), matched=["r"],
                        alerts=[Alert("r", "ops", "Titre 0", {"title": "Titre 0"})])
    (alert,) = store.outbox.due(300.0)
    store.outbox.record_delivery([alert.id], "target", 300.0)
    store.outbox.mark_sent([alert.id], 300.0)
    return store


def test_a_sqlite_database_moves_whole_into_postgresql(tmp_path: Path, postgres_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "monitor.db"
    filled(source).close()
    assert main(["migrate", "--from", str(source), "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "1 stories, 1 feeds, 3 items, 1 articles" in out and "1 deliveries" in out

    moved = Store(postgres_url)
    try:
        state = moved.feeds.get(FEED)
        assert (state.etag, state.next_check, state.last_success) == ('"e"', 700.0, 100.0)
        assert [item.entry.title for item in moved.items.pending()] == ["Titre 1", "Titre 2"]
        (candidate,) = moved.items.recent_candidates(since=0)
        assert candidate.fingerprint.top == ("titr", "text", "articl")
        assert moved.console.alert_counts(now=0) == {"sent": 1}
        assert moved.outbox.delivered([1]) == {1: {"target"}}
        # its story index is filed again from the fingerprints copied, at the first completion
        with moved.transaction(lock="stories"):
            assert moved.stories.rebuild_if_needed(since=0) == 1
            assert moved.stories.rebuild_if_needed(since=0) == 0  # once
        same = fingerprint(Article("https://b.fr/0", "Titre 0", "s", "texte de l'article", None,
                                   "B", "page"), 250.0)
        assert moved.stories.assign(same, now=300.0, window=3600.0).story_id == candidate.story_id
        # the same entry again is known there too, and new rows get ids past the old ones
        assert moved.feeds.record_success(FEED, now=900.0, next_check=1500.0, etag=None,
                                          last_modified=None, body_hash="h2", entries=[
                                              Entry(FEED, None, "https://a.fr/0?utm_source=x", "Titre 0",
                                                    "", None),
                                              Entry(FEED, None, "https://a.fr/9", "Neuf", "", None)]) == 1
        assert max(item.id for item in moved.items.pending()) == 4
    finally:
        moved.close()
    with closing(sqlite3.connect(source)) as db:  # the source is left as it was
        assert db.execute("SELECT COUNT(*) FROM items").fetchone() == (3,)


def test_migrate_refuses_a_target_that_holds_data(tmp_path: Path, postgres_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "monitor.db"
    filled(source).close()
    assert main(["migrate", "--from", str(source), "--to", postgres_url]) == 0
    assert main(["migrate", "--from", str(source), "--to", postgres_url]) == 2
    assert "already holds feeds or items; migrate into an empty one" in capsys.readouterr().err
    assert main(["migrate", "--from", str(tmp_path / "none.db"), "--to", postgres_url]) == 2
    assert main(["migrate", "--from", str(source), "--to", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert "none.db: no such database file" in err and "must be a postgresql:// URL" in err


def test_a_large_database_is_copied_in_chunks_with_memory_flat(tmp_path: Path,
                                                              postgres_url: str) -> None:
    """Once whole tables were loaded: 474 MB of memory for a 420 MB database. Here 80 MB of
    summaries move in a process that stays far below that, saying how far it got."""
    from tests.hostile import run_measured

    source = tmp_path / "big.db"
    filled(source).close()
    with closing(sqlite3.connect(source)) as db, db:
        db.executemany("INSERT INTO items (feed_url, link, title, summary, seen_at) VALUES "
                       "(?, ?, ?, ?, 0)", ((FEED, f"https://a.fr/b{n}", f"T{n}", "x" * 4000)
                                           for n in range(20_000)))
    assert source.stat().st_size > 80_000_000
    result, peak_mb = run_measured([sys.executable, "-m", "monitor", "migrate", "--from",
                                    str(source), "--to", postgres_url])
    assert result.returncode == 0, result.stderr
    assert "20003 items" in result.stdout
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"


def test_progress_is_told_chunk_by_chunk(tmp_path: Path, postgres_url: str) -> None:
    from monitor.store import migrate

    source = tmp_path / "m.db"
    filled(source).close()
    with closing(sqlite3.connect(source)) as db, db:
        db.executemany("INSERT INTO items (feed_url, link, title, summary, seen_at) VALUES "
                       "(?, ?, ?, '', 0)",
                       ((FEED, f"https://a.fr/c{n}", f"T{n}") for n in range(1200)))
    steps: list[tuple[str, int, int]] = []
    migrate.migrate(source, postgres_url, lambda *step: steps.append(step))
    assert [step for step in steps if step[0] == "items"] == [
        ("items", 500, 1203), ("items", 1000, 1203), ("items", 1203, 1203)]
