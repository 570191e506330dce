"""The fault suite: `monitor run` SIGKILLed at 50 random instants while stories keep coming,
with two channels of two URLs each (one URL failing every other request), a digest channel and
a channel in quiet hours. After a clean restart every alert has reached every URL, and more than
once only within the documented window (a message out, the daemon killed before recording it):
at most one duplicate per URL per kill. No process of a killed daemon is left behind."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import yaml

from tests.db import connect
from tests.e2e.helpers import FEED, Daemon, write_config
from tests.servers import Route, Site, wait_for

KILLS = 50
FEEDS = 8
# A made-up name per story (a syllable per feed, one per item), so that clustering keeps the
# stories apart and each deserves its alert.
FEED_SYLLABLES = ["Bra", "Kel", "Dor", "Mav", "Tul", "Zen", "Pok", "Ril"]
ITEM_SYLLABLES = ["vik", "lone", "muth", "sard", "gova", "dax", "pir", "nob"]
TARGETS = ["/team", "/team-flap", "/desk", "/desk-form", "/digest", "/quiet"]
ZONE = "Europe/Paris"


def name(feed: int, item: int) -> str:
    return FEED_SYLLABLES[feed] + ITEM_SYLLABLES[item]


def serve(site: Site, feed: int, items: int) -> None:
    body = "".join(f"<item><title>Tomahawk chez {name(feed, i)}</title>"
                   f"<link>{site.base}/p{feed}-{i}</link>"
                   f"<description>Tomahawk chez {name(feed, i)}.</description></item>"
                   for i in range(items))
    site.routes[f"/feed{feed}.xml"] = Route(FEED.format(items=body).encode(),
                                            etag=f'"{feed}-{items}"')


def quiet_window(minutes: int) -> tuple[str, float]:
    """A quiet window from this minute to `minutes` later, and when it ends (epoch seconds)."""
    now = datetime.now(ZoneInfo(ZONE))
    start = now.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=minutes)
    return f"{start:%H:%M}-{end:%H:%M}", end.timestamp()


def delivered(site: Site, path: str) -> Counter:
    """How many messages accepted at `path` named each story."""
    counts: Counter = Counter()
    for request in site.got("POST", path):
        if request.path != path or request in site.refused:
            continue
        if path.endswith("-form"):
            text = " ".join(v for values in parse_qs(request.body.decode()).values()
                            for v in values)
        else:
            payload = json.loads(request.body)
            text = f"{payload['title']} {payload['message']}"
        counts.update({story for story in ALL if story in text})
    return counts


ALL = [name(f, i) for f in range(FEEDS) for i in range(len(ITEM_SYLLABLES))]


def test_fifty_sigkills_lose_nothing_and_repeat_only_in_flight_messages(
        tmp_path: Path, site: Site) -> None:
    hooks = site.base.split("//")[1]
    quiet, quiet_ends = quiet_window(2)
    config = write_config(
        tmp_path, [{"name": f"Fil {f}", "url": site.url(f"/feed{f}.xml")} for f in range(FEEDS)],
        {"team": [f"json://{hooks}/team", f"json://{hooks}/team-flap"],
         "desk": [f"json://{hooks}/desk", f"form://{hooks}/desk-form"],
         "digest": {"urls": [f"json://{hooks}/digest"], "digest": {"every": "5s"}},
         "quiet": {"urls": [f"json://{hooks}/quiet"], "quiet": quiet}},
        ["team", "desk", "digest", "quiet"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n",
        poll={"interval": "1s", "tick": "1s"})
    settings = yaml.safe_load(config.read_text())
    settings["notify"].update(timezone=ZONE, max_retry_delay="4s")  # the flapping URL's turn
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    site.flapping["/team-flap"] = 0
    site.post_delay = 0.05
    items = [1] * FEEDS
    for feed in range(FEEDS):
        serve(site, feed, 1)
    rng = random.Random(20261202)
    kills = 0
    started = time.monotonic()
    for round_ in range(KILLS):
        feed = round_ % FEEDS  # a story more before each start: work for every life
        if items[feed] < len(ITEM_SYLLABLES):
            items[feed] += 1
            serve(site, feed, items[feed])
        daemon = Daemon(config)
        try:
            time.sleep(rng.uniform(0.3, 2.5))
            assert daemon.alive(), daemon.log()
            daemon.process.send_signal(signal.SIGKILL)
            daemon.process.wait(timeout=30)
            kills += 1
            daemon.wait_for_group_gone()  # no orphaned worker or fork server
        finally:
            daemon.close()
    killing = time.monotonic() - started
    expected = {name(f, i) for f in range(FEEDS) for i in range(items[f])}

    def complete() -> bool:  # every story on every URL, and nothing left to send (a follow-up
        if not all(set(delivered(site, path)) >= expected for path in TARGETS):  # for a
            return False  # digest may still wait for its turn)
        with connect(tmp_path / "state" / "monitor.db") as db:
            return db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'pending'"
                              ).fetchone()[0] == 0

    final = Daemon(config)
    try:
        with contextlib.suppress(AssertionError):  # the counts below say what is missing
            wait_for(lambda: time.time() > quiet_ends + 1 and complete() or not final.alive(),
                     timeout=max(0.0, quiet_ends - time.time()) + 120)
        assert final.stop() == 0, final.log()
        final.wait_for_group_gone()
    finally:
        final.close()
    duplicates = {path: sum(n - 1 for n in delivered(site, path).values()) for path in TARGETS}
    losses = {path: len(expected - set(delivered(site, path))) for path in TARGETS}
    print(f"\nfault suite: {kills} kills in {killing:.0f} s, {len(expected)} stories × "
          f"{len(TARGETS)} URLs, duplicates {duplicates}, losses {losses}, "
          f"{len(site.refused)} refused by the flapping URL")
    assert losses == dict.fromkeys(TARGETS, 0)
    assert all(count <= kills for count in duplicates.values()), duplicates
    assert len(site.refused) > 0
    with connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'").fetchone()[0] == 0
        assert db.execute("SELECT DISTINCT status FROM alerts").fetchall() == [("sent",)]
