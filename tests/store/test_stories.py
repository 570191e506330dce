"""The story index in the database: the same stories as the in-memory index, seen at once by
every instance, the window kept, and rows that follow their article's fingerprint."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.core.dedup import fingerprint
from monitor.core.models import Article, Entry, StoryAssignment
from monitor.core.storyindex import StoryIndex, lookup
from monitor.store.store import Store
from tests.core.test_storyindex import ITEMS, WINDOW, article
from tests.db import connect

FEED = "https://a.fr/rss"


@pytest.fixture
def store(database: str | Path):
    db = Store(database)
    db.feeds.sync([(FEED, "A", True)], 50.0)
    yield db
    db.close()


def stored(store: Store, count: int) -> list[int]:
    """`count` new items' ids, in order."""
    store.feeds.record_success(FEED, now=1.0, next_check=2.0, etag=None, last_modified=None,
                               body_hash=f"h{random.random()}", entries=[
                                   Entry(FEED, None, f"https://a.fr/{random.random()}", "T", "s",
                                         datetime(2025, 2, 8, tzinfo=UTC)) for _ in range(count)])
    return [item.id for item in store.items.pending()][-count:]


def complete(store: Store, item_id: int, found: Article, now: float) -> tuple[int, StoryAssignment]:
    """Assigned and completed as the complete runner does: under the stories lock, at once."""
    fp = fingerprint(found, found.published.timestamp() if found.published else now)
    with store.transaction(lock="stories"):
        assignment = store.stories.assign(fp, now, WINDOW)
        story, _ = store.items.complete(item_id, now=now, article=found, fingerprint=fp,
                                        assignment=assignment, matched=[], alerts=[])
    return story, assignment


def partition_stored(store: Store, order: list[int]) -> set[frozenset[int]]:
    ids = stored(store, len(order))
    story_of = {}
    for number, item_id in zip(order, ids, strict=True):
        _, hours, outlet, title, summary = ITEMS[number]
        story_of[number], _ = complete(store, item_id, article(hours, outlet, title, summary), 0.0)
    with connect(store.target) as db:  # merges are written to the items themselves
        now = dict(db.execute("SELECT id, story_id FROM items WHERE state = 'done'").fetchall())
    groups: dict[int, set[int]] = {}
    for number, item_id in zip(order, ids, strict=True):
        groups.setdefault(now[item_id], set()).add(number)
    return {frozenset(group) for group in groups.values()}


def partition_in_memory(order: list[int]) -> set[frozenset[int]]:
    index, story_of = StoryIndex(WINDOW), {}
    for number in order:
        _, hours, outlet, title, summary = ITEMS[number]
        a = article(hours, outlet, title, summary)
        fp = fingerprint(a, a.published.timestamp())
        found = index.assign(fp)
        story = found.story_id if found.story_id is not None else -1 - number
        index.merge(story, found.merged)
        index.add(story, fp, 0.0)
        story_of[number] = story
    groups: dict[int, set[int]] = {}
    for number, story in story_of.items():
        groups.setdefault(index.story(story), set()).add(number)
    return {frozenset(group) for group in groups.values()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_same_stories_as_the_in_memory_index_in_any_order(store: Store, seed: int) -> None:
    order = list(range(len(ITEMS)))
    random.Random(seed).shuffle(order)
    expected = partition_in_memory(order)
    assert {frozenset({0, 1, 2, 3, 4}), frozenset({5, 6, 7})} <= expected  # the fixture's stories
    assert partition_stored(store, order) == expected


def test_an_instance_sees_the_articles_of_others_at_once(store: Store, database) -> None:
    other = Store(database)
    try:
        one, two = stored(store, 2)
        _, hours, outlet, title, summary = ITEMS[1]
        story, _ = complete(other, one, article(hours, outlet, title, summary), 0.0)
        _, hours, outlet, title, summary = ITEMS[2]
        joined, assignment = complete(store, two, article(hours, outlet, title, summary), 0.0)
        assert joined == assignment.story_id == story
    finally:
        other.close()


def rows(store: Store) -> int:
    with connect(store.target) as db:
        return int(db.execute("SELECT count(*) FROM story_postings").fetchone()[0])


def test_members_are_the_articles_completed_within_two_windows(store: Store) -> None:
    first, second = stored(store, 2)
    _, hours, outlet, title, summary = ITEMS[1]
    story, _ = complete(store, first, article(hours, outlet, title, summary), now=0.0)
    filed = rows(store)
    assert filed == len(set(lookup(fingerprint(article(hours, outlet, title, summary), 0)).names()))
    _, hours, outlet, title, summary = ITEMS[2]  # its follow-up, published 17 hours later
    late = article(hours, outlet, title, summary)
    fp = fingerprint(late, late.published.timestamp())
    assert store.stories.assign(fp, now=2 * WINDOW, window=WINDOW).story_id == story
    assert store.stories.assign(fp, now=2 * WINDOW + 1, window=WINDOW).story_id is None
    assert store.stories.prune(before=1.0) == filed  # rows of articles completed before then
    assert rows(store) == 0 and store.stories.prune(before=2.0) == 0
    complete(store, second, late, now=10.0)
    assert rows(store) > 0 and store.stories.prune(before=5.0) == 0


def test_an_article_refreshed_from_its_page_is_filed_under_its_new_names(store: Store) -> None:
    (item,) = stored(store, 1)
    _, hours, outlet, title, summary = ITEMS[1]
    story, _ = complete(store, item, article(hours, outlet, title, summary), now=0.0)
    page = Article("https://a.fr/page", "Mort de Louise : l'enquête", "", " ".join(
        f"Les enquêteurs de l'Essonne ont entendu le témoin numéro {n} ce samedi." for n in
        range(12)), None, "A", "page")
    fp = fingerprint(page, 0.0)
    store.items.refresh_article(item, story_id=story, now=1.0, article=page, fingerprint=fp,
                                matched=[], alerts=[], max_age=3600.0)
    assert rows(store) == len(set(lookup(fp).names()))  # the summary's names are gone
    copy = fingerprint(Article("https://b.fr/copy", "Autre titre", "", page.text, None, "B",
                               "page"), 0.0)
    assert store.stories.assign(copy, now=2.0, window=WINDOW).story_id == story


def test_a_fingerprint_reads_back_the_same_with_or_without_its_stored_heaviest_terms() -> None:
    import json

    from monitor.store.stories import dump_fingerprint, load_fingerprint

    fp = fingerprint(article(0, "Le Monde", "Le Sénat adopte le budget 2025 après un vote serré",
                             "Les sénateurs ont adopté le projet de loi de finances par 217 voix"),
                     0.0)
    stored_now = dump_fingerprint(fp)
    assert json.loads(stored_now)["top"] == list(fp.top)  # what spares sorting it again
    older = json.loads(stored_now)
    del older["top"]  # as stored before
    assert load_fingerprint(stored_now) == load_fingerprint(json.dumps(older)) == fp
