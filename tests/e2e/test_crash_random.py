"""SIGKILL at random moments, over several runs, on a farm of feeds: after a clean restart every
alert has arrived, and nothing arrived twice but, at most, one message in flight per kill."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections import Counter

from tests.e2e.helpers import write_config
from tests.e2e.test_run import FEED, Daemon
from tests.servers import Route, Site, wait_for

FEEDS, ITEMS = 8, 5
# Forty stories that share nothing but the rule's word: one made-up name each (a syllable per
# feed, one per item), so story clustering keeps them apart and each deserves its alert.
FEED_SYLLABLES = ["Bra", "Kel", "Dor", "Mav", "Tul", "Zen", "Pok", "Ril"]
ITEM_SYLLABLES = ["vik", "lone", "muth", "sard", "gova"]


def title(feed: int, item: int) -> str:
    return f"Tomahawk chez {FEED_SYLLABLES[feed]}{ITEM_SYLLABLES[item]}"


def test_random_sigkills_lose_nothing(tmp_path, site: Site) -> None:
    for f in range(FEEDS):
        items = "".join(f"<item><title>{title(f, i)}</title><link>{site.base}/p{f}-{i}</link>"
                        f"<description>{title(f, i)}.</description></item>" for i in range(ITEMS))
        site.routes[f"/feed{f}.xml"] = Route(FEED.format(items=items).encode(), etag=f'"{f}"')
    config = write_config(tmp_path, [{"name": f"Fil {f}", "url": site.url(f"/feed{f}.xml")}
                                     for f in range(FEEDS)],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"],
                          "rules:\n  - {name: tomahawk, any: [tomahawk]}\n")
    site.post_delay = 0.05
    rng = random.Random(20261125)
    kills = 0
    for _ in range(4):
        daemon = Daemon(config)
        try:
            time.sleep(rng.uniform(0.5, 3.0))
            if daemon.alive():
                daemon.process.send_signal(signal.SIGKILL)
                daemon.process.wait(timeout=30)
                daemon.wait_for_group_gone()  # no orphaned worker or fork server
                kills += 1
        finally:
            daemon.close()

    expected = {title(f, i) for f in range(FEEDS) for i in range(ITEMS)}

    def received() -> Counter:
        return Counter(json.loads(r.body)["title"] for r in site.got("POST", "/hook"))

    final = Daemon(config)
    try:
        wait_for(lambda: set(received()) >= expected or not final.alive(), timeout=120)
        assert final.stop() == 0, final.log()
    finally:
        final.close()
    counts = received()
    assert set(counts) == expected
    assert sum(counts.values()) - len(expected) <= kills
    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'").fetchone()[0] == 0
        assert db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall() == \
            [("sent", len(expected))]
