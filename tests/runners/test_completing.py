"""The complete runner on several instances: story decisions taken one at a time, cluster-wide,
each seeing the articles the others filed in the database's story index."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from monitor.runners import app
from monitor.runners.completing import Ready
from monitor.store.store import Store
from tests.db import connect, fail_updates
from tests.e2e.helpers import write_config
from tests.servers import Route, Site

TEXT = ("Le gouvernement a présenté mercredi un plan de sauvetage des hôpitaux de Bretagne, "
        "après des semaines de grève des urgences à Brest, Quimper et Lorient. Le ministre "
        "de la santé promet trois cents postes d'infirmiers et une enveloppe de quarante "
        "millions d'euros, que les syndicats jugent insuffisante au regard des fermetures "
        "de lits annoncées pour l'été dans les centres hospitaliers de la région.")


def feed(site: Site, outlet: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{outlet}'
            f"</title><item><title>Hôpitaux bretons : un plan de sauvetage</title>"
            f"<link>{site.base}/{outlet}/article</link><description>{TEXT}</description>"
            "</item></channel></rss>").encode()


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_copies_completed_at_once_on_two_instances_make_one_story(
        tmp_path: Path, site: Site, postgres_url: str, first: str) -> None:
    for outlet in ("ouest", "telegramme"):
        site.routes[f"/{outlet}.xml"] = Route(feed(site, outlet))
    path = write_config(tmp_path, [{"name": "Ouest", "url": site.url("/ouest.xml")},
                                   {"name": "Le Télégramme", "url": site.url("/telegramme.xml")}],
                        {"ops": "json://127.0.0.1:9/hook"}, ["ops"],
                        "rules:\n  - {name: hopital, any: [hôpitaux]}\n", workers=0,
                        database=postgres_url)
    config, rules = app.load(path)

    ready = threading.Barrier(2)
    results: dict[str, int] = {}

    async def instance(name: str, feed_index: int) -> None:
        named = config.model_copy(update={"instance": name})
        async with app.open_pipeline(named, rules) as pipeline:
            await pipeline.poll_all([config.feeds[feed_index]])
            runner = pipeline.completing
            (item,) = [i for i in pipeline.store.items.pending()
                       if i.entry.feed_url == config.feeds[feed_index].url]
            article, fingerprint, _ = await runner._analyse(item)
            ready.wait(10)
            if name != first:
                await asyncio.sleep(0.05)  # the other one decides first
            matches = await runner._match(item, article)
            ((_, outcome),) = await runner._commit([Ready(item, article, fingerprint, matches,
                                                          False)])
            assert isinstance(outcome, int)
        results[name] = item.id

    threads = [threading.Thread(target=asyncio.run, args=(instance(name, index),))
               for index, name in enumerate(("a", "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(results) == {"a", "b"}
    store = Store(postgres_url)
    try:
        (story,) = store.console.recent_stories(since=0)
        assert story.articles == 2 and set(story.outlets) == {"Ouest", "Le Télégramme"}
        # the headline, due now, and a follow-up held for the digest
        assert store.console.alert_counts(now=time.time()) == {"pending": 1, "held": 1}
    finally:
        store.close()


def _spacy_loaded() -> bool:
    import sys

    return "spacy" in sys.modules


def test_named_entities_load_their_model_in_one_process_not_in_every_worker(
        tmp_path: Path, site: Site) -> None:
    """Each extraction worker loaded spaCy's model for itself (+110 MB each, issue 29): the
    entities run in a process of their own, whatever the number of workers."""
    site.routes["/fil.xml"] = Route(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Fil</title>'
        f"<item><title>Zelensky attendu à Budapest</title><link>{site.base}/a</link>"
        "<description>Le président ukrainien Zelensky rencontrera Viktor Orban à Budapest."
        "</description></item></channel></rss>".encode())
    path = write_config(tmp_path, [{"name": "Fil", "url": site.url("/fil.xml")}],
                        {"ops": "json://127.0.0.1:9/hook"}, ["ops"],
                        "rules:\n  - {name: visite, entities: {PER: [Zelensky]}}\n", workers=2)
    config, rules = app.load(path)

    async def scenario() -> tuple[list[bool], bool, int]:
        async with app.open_pipeline(config, rules) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            done = await pipeline.process_pending()
            context = pipeline.context
            assert context.entities is not None
            workers = [await context.workers.run(_spacy_loaded) for _ in range(6)]
            return workers, await context.entities.run(_spacy_loaded), done.queued

    workers, entity_process, queued = asyncio.run(scenario())
    assert queued == 1  # the rule matched: the person was recognised
    assert entity_process and not any(workers)


async def _analysed(pipeline: app.Pipeline) -> list[Ready]:
    """Every pending item analysed and matched, ready to commit (in feed order)."""
    await pipeline.poll_all(pipeline.enabled_feeds())
    runner, ready = pipeline.completing, []
    for item in sorted(pipeline.store.items.pending(), key=lambda item: item.entry.feed_url):
        article, fingerprint, failed = await runner._analyse(item)
        ready.append(Ready(item, article, fingerprint, await runner._match(item, article), failed))
    return ready


def two_outlets(tmp_path: Path, site: Site) -> tuple:
    for outlet in ("ouest", "telegramme"):
        site.routes[f"/{outlet}.xml"] = Route(feed(site, outlet))
    path = write_config(tmp_path, [{"name": "Ouest", "url": site.url("/ouest.xml")},
                                   {"name": "Le Télégramme", "url": site.url("/telegramme.xml")}],
                        {"ops": "json://127.0.0.1:9/hook"}, ["ops"],
                        "rules:\n  - {name: hopital, any: [hôpitaux]}\n", workers=0)
    return app.load(path)


def test_copies_committed_in_one_batch_make_one_story(tmp_path: Path, site: Site) -> None:
    """Items ready at once share a transaction: the second must still see the first's story."""
    config, rules = two_outlets(tmp_path, site)

    async def scenario() -> list:
        async with app.open_pipeline(config, rules) as pipeline:
            return await pipeline.completing._commit(await _analysed(pipeline))

    outcomes = asyncio.run(scenario())
    # the headline, and a follow-up held for the digest (not a second headline)
    assert [outcome for _, outcome in outcomes] == [1, 1]
    store = Store(str(config.database))
    try:
        (story,) = store.console.recent_stories(since=0)
        assert story.articles == 2
        assert store.console.alert_counts(now=time.time()) == {"pending": 1, "held": 1}
    finally:
        store.close()


def test_an_item_failing_in_a_batch_costs_no_other_item(tmp_path: Path, site: Site) -> None:
    """The database refuses one item's write (a trigger, as a full disk would): the batch's
    transaction is rolled back and each item committed alone. The bad one stays new, the other
    is completed, and the story index holds what was written only."""
    config, rules = two_outlets(tmp_path, site)

    async def scenario() -> tuple[list, int]:
        async with app.open_pipeline(config, rules) as pipeline:
            with connect(config.database) as db:
                fail_updates(db, "items", "state", when="NEW.feed_url LIKE '%telegramme%'")
            ready = await _analysed(pipeline)
            assert "/ouest/" in ready[0].article.url  # the good one first: the batch wrote it
            outcomes = await pipeline.completing._commit(ready)
            with connect(config.database) as db:
                indexed = db.execute("SELECT count(DISTINCT item_id) FROM story_postings"
                                     ).fetchone()[0]
            return outcomes, indexed

    outcomes, indexed = asyncio.run(scenario())
    assert outcomes[0][1] == 1 and "database or disk is full" in str(outcomes[1][1])
    assert indexed == 1  # the good item, once: not twice from the batch that failed
    store = Store(str(config.database))
    try:
        (story,) = store.console.recent_stories(since=0)
        assert story.articles == 1
        assert {item.entry.feed_url for item in store.items.pending()} == {
            config.feeds[1].url}
    finally:
        store.close()


def test_an_upgraded_database_files_its_window_before_the_first_assignment(
        tmp_path: Path, site: Site) -> None:
    """A database of schema 13 held its stories' articles but no story index rows: they are
    filed at the first pass, so the next copy still joins its story."""
    config, rules = two_outlets(tmp_path, site)

    async def scenario() -> None:
        async with app.open_pipeline(config, rules) as pipeline:
            first, second = await _analysed(pipeline)
            await pipeline.completing._commit([first])
            with connect(config.database) as db:  # as the upgrade to schema 14 leaves it
                db.execute("DELETE FROM story_postings")
                db.execute("INSERT INTO counters (name, value) VALUES ('postings_rebuild', 1)")
            await pipeline.process_pending()

    asyncio.run(scenario())
    store = Store(str(config.database))
    try:
        (story,) = store.console.recent_stories(since=0)
        assert story.articles == 2
    finally:
        store.close()
