"""A feed's first poll: the old news it lists is stored without alerts, what is fresh alerts, and
everything after the first poll alerts whatever its date."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

from tests.db import connect
from tests.e2e.helpers import monitor_in, posted_alerts, write_config
from tests.servers import Route, Site

RULES = "rules:\n  - {name: tomahawk, any: [tomahawk]}\n"
HOUR = 3600.0


def item(slug: str, title: str, hours_ago: float, base: str) -> str:
    return (f"<item><title>{title}</title><link>{base}/{slug}</link><description>{title}."
            f"</description><pubDate>{formatdate(time.time() - hours_ago * HOUR)}</pubDate></item>")


def serve(site: Site, *items: str) -> None:
    site.routes["/feed.xml"] = Route(
        f"<rss version='2.0'><channel><title>Le Fil</title>{''.join(items)}</channel></rss>"
        .encode(), etag=f'"{len(items)}"')


def test_the_first_poll_alerts_on_fresh_items_only(tmp_path, site: Site) -> None:
    old = [item("o1", "Tomahawk : le Pentagone hésite", 30, site.base),
           item("o2", "Tomahawk : la Maison Blanche temporise", 50, site.base),
           item("o3", "Budget : le Sénat vote", 40, site.base)]
    fresh = item("n1", "Tomahawk pour Kiev : feu vert de Washington", 2, site.base)
    serve(site, fresh, *old)
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"], RULES,
                          poll={"backfill": "24h"}, workers=0)
    first = monitor_in(tmp_path, "once", "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert "3 old item(s) stored without alerts" in first.stderr
    assert [alert["title"] for alert in posted_alerts(site)] == [
        "Tomahawk pour Kiev : feu vert de Washington"]
    with connect(tmp_path / "state" / "monitor.db") as db:  # stored, matched, in stories
        assert db.execute("SELECT title, matched_rules FROM items WHERE old = 1 AND state = 'done' "
                          "AND story_id IS NOT NULL ORDER BY id").fetchall() == [
            ("Tomahawk : le Pentagone hésite", '["tomahawk"]'),
            ("Tomahawk : la Maison Blanche temporise", '["tomahawk"]'),
            ("Budget : le Sénat vote", "[]")]

    # Later polls: a new item alerts even when it says it is three days old.
    serve(site, item("n2", "Tomahawk : Moscou menace les Pays-Bas", 72, site.base), fresh, *old)
    second = monitor_in(tmp_path, "once", "-v", "--log-format", "text", "-c", str(config))
    assert second.returncode == 0, second.stderr
    assert "old item" not in second.stderr
    # -v says, per item that matched, its rules and story (and no library's debug lines)
    assert "'Tomahawk : Moscou menace les Pays-Bas': rules tomahawk, story " in second.stderr
    assert "DEBUG" not in second.stderr
    assert json.loads(site.got("POST", "/hook")[-1].body)["title"] == \
        "Tomahawk : Moscou menace les Pays-Bas"
    assert len(site.got("POST", "/hook")) == 2


def test_backfill_zero_alerts_only_on_what_appears_after_the_first_poll(tmp_path, site) -> None:
    serve(site, item("n1", "Tomahawk pour Kiev : feu vert de Washington", 0.1, site.base))
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml"),
                                      "backfill": 0}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"], RULES,
                          workers=0)
    result = monitor_in(tmp_path, "once", "-c", str(config))
    assert "1 old item(s) stored without alerts" in result.stderr
    assert site.got("POST", "/hook") == []


def test_the_console_channel_prints_plain_text(tmp_path, site: Site) -> None:
    serve(site, item("n1", "Tomahawk pour Kiev : feu vert de Washington", 0.5, site.base))
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}], {},
                          ["console"], RULES, workers=0)
    result = monitor_in(tmp_path, "once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "== Tomahawk pour Kiev : feu vert de Washington" in result.stdout
    assert "Tomahawk" in result.stdout and "**" not in result.stdout and "](" not in result.stdout
