"""A story spreading, on the path a user runs (`monitor once` against local feeds, alerts posted
by Apprise's json:// to a local catcher): a rule's `spread:` and `notify.trending` each say it
once, when the third outlet carries it, and never again for the fourth."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

import yaml

from monitor.store.store import Store
from tests.e2e.helpers import monitor_in, posted_alerts, write_config
from tests.servers import Route, Site

LEAD = ("Les missiles de croisière promis par les alliés arriveront en Ukraine avant l'hiver, "
        "a annoncé le ministre de la défense à Kiev, qui attend aussi des défenses aériennes "
        "pour protéger les centrales électriques visées chaque nuit par les drones.")
OUTLETS = ["RFI", "Le Monde", "France 24", "Libération"]
RULES = """rules:
  - name: ukraine
    any: [Ukraine]
    spread: {outlets: 3, within: 2h}
"""


def feed(site: Site, outlet: str, minutes_ago: float) -> bytes:
    """The outlet's feed, its article at an address of the outlet's own (127.0.0.N, where
    nothing answers: completed from its summary): each outlet is a site of its own."""
    slug = outlet.lower().replace(" ", "-")
    host = f"127.0.0.{2 + OUTLETS.index(outlet)}:{site.base.rsplit(':', 1)[1]}"
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{outlet}</title><link>{site.base}</link><description>x</description>"
            f"<item><title>{outlet} : des missiles pour l'Ukraine avant l'hiver</title>"
            f"<link>http://{host}/{slug}</link><guid>{slug}-1</guid>"
            f"<pubDate>{formatdate(time.time() - minutes_ago * 60)}</pubDate>"
            f"<description>{LEAD}</description></item></channel></rss>").encode()


def spread_alerts(site: Site, path: str) -> list[str]:
    return [a["title"] for a in posted_alerts(site, path) if a["title"].startswith("Sujet qui")]


def test_a_story_is_announced_once_when_its_third_outlet_carries_it(
        tmp_path: Path, site: Site, database: str | Path) -> None:
    hook = site.base.split("//")[1]
    feeds = [{"name": outlet, "url": site.url(f"/{n}.xml")} for n, outlet in enumerate(OUTLETS)]
    config = write_config(tmp_path, feeds, {"hook": f"json://{hook}/hook",
                                            "trend": f"json://{hook}/trend"}, ["hook"], RULES,
                          workers=0)
    settings = yaml.safe_load(config.read_text())
    settings["notify"]["trending"] = {"outlets": 3, "within": "2h", "channels": ["trend"]}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    for n, outlet in enumerate(OUTLETS):  # an empty feed until its outlet carries the story
        site.routes[f"/{n}.xml"] = Route(feed(site, outlet, 0).split(b"<item>")[0]
                                         + b"</channel></rss>")

    def carried_by(count: int) -> None:
        for n, outlet in enumerate(OUTLETS[:count]):
            site.routes[f"/{n}.xml"] = Route(feed(site, outlet, 50 - 10 * n))
        result = monitor_in(tmp_path, "once", "--config", str(config))
        assert result.returncode == 0, result.stderr

    carried_by(2)
    (headline,) = [a["title"] for a in posted_alerts(site)]  # once, for the story
    assert headline.endswith(" : des missiles pour l'Ukraine avant l'hiver")
    assert spread_alerts(site, "/hook") == spread_alerts(site, "/trend") == []
    carried_by(3)
    (spreading,) = spread_alerts(site, "/hook")
    assert spreading.startswith("Sujet qui s’étend (3 médias en 2 h) : ")
    assert len(spread_alerts(site, "/trend")) == 1
    carried_by(4)
    assert len(spread_alerts(site, "/hook")) == len(spread_alerts(site, "/trend")) == 1
    stories = monitor_in(tmp_path, "stories", "--config", str(config)).stdout
    assert "4 article(s), 4 outlet(s)" in stories  # one story throughout
    store = Store(database)  # the daemon's: a SQLite file, or PostgreSQL with --engine postgres
    try:  # the console tells them apart from follow-ups
        kinds = sorted(row.kind for row in store.console.alert_rows(now=time.time()))
    finally:
        store.close()
    assert kinds.count("spread") == 2 and kinds.count("alert") == 1
