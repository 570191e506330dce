"""SIGKILL in the middle of delivering alerts, then a restart: every alert arrives, and at most
the one that was on the wire when the process died arrives twice (see the README)."""

from __future__ import annotations

import json
import signal
from collections import Counter

from tests.db import connect
from tests.e2e.helpers import FEED, Daemon, write_config
from tests.servers import Route, Site, wait_for

SUBJECTS = ["Tomahawk à Kiev", "Tomahawk : le Sénat vote", "Tomahawk et l'OTAN",
            "Tomahawk, l'Allemagne hésite", "Tomahawk : Moscou menace", "Tomahawk en Pologne",
            "Tomahawk : la Chine réagit", "Tomahawk, le Pentagone précise"]


def titles(site: Site) -> list[str]:
    return [json.loads(r.body)["title"] for r in site.got("POST", "/hook")]


def test_sigkill_mid_delivery_loses_nothing(tmp_path, site: Site) -> None:
    items = "".join(f"<item><title>{t}</title><link>{site.base}/a{i}</link>"
                    f"<description>{t}</description></item>" for i, t in enumerate(SUBJECTS))
    site.routes["/feed.xml"] = Route(FEED.format(items=items).encode())
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"],
                          "rules:\n  - {name: tomahawk, any: [tomahawk]}\n")
    site.post_delay = 0.4  # a slow webhook: the kill lands while alerts are going out

    first = Daemon(config)
    try:
        wait_for(lambda: len(site.got("POST", "/hook")) >= 3 or not first.alive())
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        # its workers and their fork server go with it, SIGKILL or not
        first.wait_for_group_gone()
    finally:
        first.close()
    assert len(titles(site)) < len(SUBJECTS)  # killed mid-way

    site.post_delay = 0.0
    second = Daemon(config)
    try:
        wait_for(lambda: set(titles(site)) == set(SUBJECTS) or not second.alive())
        assert second.stop() == 0, second.log()
    finally:
        second.close()

    received = Counter(titles(site))
    assert set(received) == set(SUBJECTS)
    assert sum(received.values()) <= len(SUBJECTS) + 1  # at most the one in flight, twice
    with connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall() == \
            [("sent", len(SUBJECTS))]
