"""The poll runner's records of polls that parse nothing (a 304, a failure), written in
batches: each poll recorded once, none lost, and one feed's refused record or lost lease
costing the others nothing. A real HTTP server and database, and the daemon's poll job."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.runners import app
from monitor.runners.polling import PollRunner
from tests.db import connect, fail_updates
from tests.e2e.helpers import write_config
from tests.runners.test_pipeline import Clock
from tests.servers import Route, Site

FEEDS = 24
FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Fil {n}</title>
<item><title>Dépêche {n}</title><link>{base}/a{n}</link>
<description>Le texte de la dépêche {n}.</description></item>
</channel></rss>"""


@pytest.fixture(autouse=True)
def _quiet_console(capsys: pytest.CaptureFixture[str]) -> None:
    pass


def setup(tmp_path: Path, site: Site) -> tuple[Any, Any, list[str]]:
    """FEEDS feeds answering 304 to their ETag, polled 16 at a time."""
    urls = []
    for n in range(FEEDS):
        site.routes[f"/feed{n}.xml"] = Route(FEED.format(n=n, base=site.base).encode(),
                                             etag=f'"v{n}"')
        urls.append(site.url(f"/feed{n}.xml"))
    feeds = [{"name": f"Fil {n}", "url": url} for n, url in enumerate(urls)]
    path = write_config(tmp_path, feeds, {}, [], "rules: []\n", workers=0, network={
        "allow_private_addresses": True, "timeout": "10s", "concurrency": 16, "per_host": 16})
    config, rules = app.load(path)
    return config, rules, urls


def counters(config: Any) -> dict[str, tuple[int, int]]:
    with connect(config.database) as db:
        return {url: (polls, not_modified) for url, polls, not_modified in db.execute(
            "SELECT url, polls, not_modified FROM feeds")}


def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch of records written from now on."""
    sizes: list[int] = []
    write = PollRunner._apply_batch

    def counting(self: PollRunner, batch: Sequence[Any]) -> list[Any]:
        sizes.append(len(batch))
        return write(self, batch)

    monkeypatch.setattr(PollRunner, "_apply_batch", counting)
    return sizes


def test_a_cycle_of_304s_records_each_feed_once_in_batches(
        tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    config, rules, urls = setup(tmp_path, site)
    clock = Clock()

    async def scenario() -> list[str]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            first = await pipeline.polling.poll_due()
            assert sorted(poll.status for poll in first) == ["new"] * FEEDS
            sizes = batch_sizes(monkeypatch)
            clock.now += 24 * 3600
            second = await pipeline.polling.poll_due()
            assert sum(sizes) == FEEDS and len(sizes) < FEEDS  # several to a batch
            assert await pipeline.polling.poll_due() == []  # all recorded: none due again
            return [poll.status for poll in second]

    assert asyncio.run(scenario()) == ["not-modified"] * FEEDS
    assert counters(config) == {url: (2, 1) for url in urls}  # each written once, none lost
    with connect(config.database) as db:
        assert db.execute("SELECT count(*) FROM feeds WHERE next_check <= ? "
                          "OR lease_until IS NOT NULL", (clock.now,)).fetchone()[0] == 0


def test_a_refused_record_in_a_batch_costs_the_other_feeds_nothing(
        tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses one feed's record (a trigger): the batch it was in is written
    again feed by feed; that feed's poll is not recorded (polled again once its lease ends),
    every other one is, once."""
    config, rules, urls = setup(tmp_path, site)
    clock = Clock()
    refused = urls[5]

    async def scenario() -> dict[str, tuple[str, str | None]]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.polling.poll_due()
            with connect(config.database) as db:
                fail_updates(db, "feeds", "polls", when=f"NEW.url = '{refused}'")
            sizes = batch_sizes(monkeypatch)
            clock.now += 24 * 3600
            polls = await pipeline.polling.poll_due()
            assert max(sizes) > 1
            return {poll.url: (poll.status, poll.error) for poll in polls}

    outcomes = asyncio.run(scenario())
    assert outcomes.pop(refused) == ("failed", "not recorded: database or disk is full")
    assert outcomes == {url: ("not-modified", None) for url in urls if url != refused}
    assert counters(config) == {url: (1, 0) if url == refused else (2, 1) for url in urls}


def test_a_lease_lost_in_a_batch_discards_that_poll_alone(tmp_path: Path, site: Site) -> None:
    """Another instance claimed one feed again meanwhile: its poll is discarded, the rest of
    its batch is recorded."""
    config, rules, urls = setup(tmp_path, site)
    clock = Clock()
    taken = ""

    async def scenario() -> dict[str, str]:
        nonlocal taken
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.polling.poll_due()
            clock.now += 24 * 3600
            claimed = await pipeline.store.call(pipeline.polling.due_feeds)
            assert len(claimed) == 16
            taken = claimed[7][0].url
            with connect(config.database) as db:  # claimed again by another instance
                db.execute("UPDATE feeds SET lease_token = lease_token + 1 WHERE url = ?",
                           (taken,))
            polls = await asyncio.gather(*(pipeline.polling.poll(feed, state)
                                           for feed, state in claimed))
            return {poll.url: poll.status for poll in polls}

    outcomes = asyncio.run(scenario())
    assert outcomes.pop(taken) == "lost"
    assert set(outcomes.values()) == {"not-modified"} and len(outcomes) == 15
    polled = counters(config)
    assert polled[taken] == (1, 0)
    assert sorted(polled[url] for url in outcomes) == [(2, 1)] * 15


def test_a_feed_added_on_reload_is_polled_by_the_next_cycle(tmp_path: Path, site: Site) -> None:
    """The poll job looks claimed feeds up in the config they came from: a reloaded config's
    new feed is polled, not passed over as unknown."""
    config, rules, urls = setup(tmp_path, site)
    clock = Clock()
    site.routes["/added.xml"] = Route(FEED.format(n=99, base=site.base).encode())

    async def scenario() -> list[str]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            assert len(await pipeline.polling.poll_due()) == FEEDS
            added = config.feeds[0].model_copy(update={"name": "Ajouté",
                                                       "url": site.url("/added.xml")})
            reloaded = config.model_copy(update={"feeds": [*config.feeds, added]})
            pipeline.reconfigure(reloaded, rules, pipeline.context.notifier)
            return [(poll.url, poll.status) for poll in await pipeline.polling.poll_due()]

    assert asyncio.run(scenario()) == [(site.url("/added.xml"), "new")]
