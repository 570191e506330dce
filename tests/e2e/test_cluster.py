"""Three `monitor run` on one PostgreSQL database, one of them SIGKILLed in the middle of its
work: every story still reaches each channel exactly once, and the dead instance's feeds and
items are taken over by the others.

A feed farm on 127.0.0.1 (twelve outlets; each story published by two of them, word for word),
article pages that trickle in over seconds (so that items are in progress when the kill comes),
two json:// channels caught by the same local server. Each instance has its own user agent, so
the farm knows who fetched what.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.db import connect
from tests.e2e.helpers import Daemon, posted_alerts, write_config
from tests.servers import Route, Site, wait_for

OUTLETS = 12
INTERVAL = 6.0  # poll.interval
LEASE = 3.0
PAGE_SECONDS = 15.0  # each article page trickles in over this long: longer than two daemons
# take to start on a loaded machine, so that the first is still at work when it is killed
RULES = """
rules:
  - name: alerte
    any: [alerte]
    notify: [a, b]
"""


def story_text(number: int) -> tuple[str, str]:
    """A story's title and text: its own words, so that no two stories read alike."""
    words = random.Random(number).sample(range(100_000), 80)
    title = f"Alerte sur le dossier Quorvex{number}"
    return title, f"{title}. " + " ".join(f"terme{number}x{word}" for word in words) + "."


def rss(outlet: int, stories: list[int], site: Site) -> bytes:
    items = []
    for number in stories:
        title, text = story_text(number)
        items.append(f"<item><title>{title}</title><link>{site.url(f'/o{outlet}/s{number}')}"
                     f"</link><description>{text}</description>"
                     "<pubDate>Mon, 24 Nov 2025 08:00:00 GMT</pubDate></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {outlet}</title>{''.join(items)}</channel></rss>").encode()


def publish(site: Site, farm: dict[int, list[int]], round_: int, stories: range) -> None:
    """Each story on two outlets (2k and 2k+1 modulo OUTLETS), its pages trickling in; `farm`
    (outlet → its stories) grows with them."""
    for number in stories:
        title, text = story_text(number)
        page = (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
                f"<p>{text}</p></article></body></html>").encode()
        for outlet in (2 * number % OUTLETS, (2 * number + 1) % OUTLETS):
            farm.setdefault(outlet, []).append(number)
            site.routes[f"/o{outlet}/s{number}"] = Route(
                page, content_type="text/html; charset=utf-8", trickle=PAGE_SECONDS)
    for outlet, listed in farm.items():
        site.routes[f"/feed{outlet}.xml"] = Route(rss(outlet, listed, site),
                                                  etag=f'"{outlet}-{round_}"')


def instance_configs(tmp_path: Path, site: Site, count: int, channels: dict, rules: str,
                     **extra: object) -> list[Path]:
    """The config of each of `count` instances (inst1, inst2…) polling the farm, channel `a`
    the default, each with a user agent of its own."""
    feeds = [{"name": f"Outlet {n}", "url": site.url(f"/feed{n}.xml")} for n in range(OUTLETS)]
    configs = []
    for instance in range(1, count + 1):
        directory = tmp_path / f"inst{instance}"
        directory.mkdir()
        configs.append(write_config(
            directory, feeds, channels, ["a"], rules, workers=0, lease=f"{LEASE}s",
            watch_rules=False, instance=f"inst{instance}",
            poll={"interval": f"{INTERVAL}s", "tick": "1s"},
            # one host serves everything here: its slow pages must not hold up the feeds
            network={"allow_private_addresses": True, "timeout": "30s", "per_host": 64,
                     "concurrency": 64, "user_agent": f"monitor-test inst{instance}"},
            **extra))
    return configs


def gets(site: Site, instance: int) -> list[tuple[float, str]]:
    return [(r.at, r.path) for r in site.got("GET")
            if r.headers.get("user-agent", "").endswith(f"inst{instance}")]


def test_three_instances_one_killed_every_alert_exactly_once(tmp_path: Path, site: Site,
                                                              postgres_url: str,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("MONITOR_DATABASE", postgres_url)
    farm: dict[int, list[int]] = {}
    publish(site, farm, 1, range(12))
    host = site.base.split("//")[1]
    configs = instance_configs(tmp_path, site, 3, {"a": f"json://{host}/hook-a",
                                                   "b": f"json://{host}/hook-b"}, RULES)
    daemons = [Daemon(configs[0])]  # the first alone: every feed and item is its own
    try:
        wait_for(lambda: any("/s" in path for _, path in gets(site, 1))
                 or not daemons[0].alive(), timeout=60)
        daemons += [Daemon(config) for config in configs[1:]]
        wait_for(lambda: all("monitor running" in daemon.log() or not daemon.alive()
                             for daemon in daemons), timeout=60)
        # instance 1 is killed while it fetches pages: the items it claimed are in progress
        with connect(postgres_url) as db:
            assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new' "
                              "AND lease_owner LIKE 'inst1:%'").fetchone()[0] > 0
        assert all(daemon.alive() for daemon in daemons), [d.log() for d in daemons]
        os.killpg(daemons[0].process.pid, signal.SIGKILL)
        daemons[0].process.wait()
        killed = time.monotonic()
        last_by_dead = {path: at for at, path in gets(site, 1) if path.startswith("/feed")}

        publish(site, farm, 2, range(12, 18))  # news after the kill: only the survivors can see it

        def delivered() -> Counter[tuple[str, str]]:
            return Counter((hook, alert["title"]) for hook in ("/hook-a", "/hook-b")
                           for alert in posted_alerts(site, hook))

        def pending() -> int:
            with connect(postgres_url) as db:
                return int(db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'"
                                      ).fetchone()[0])

        def unsent() -> int:
            with connect(postgres_url) as db:
                return int(db.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'alert' AND "
                                      "status != 'sent'").fetchone()[0])

        def stored() -> int:
            with connect(postgres_url) as db:
                return int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

        # Every headline recorded as sent: nothing is left that anyone could send again. And
        # both copies of each story stored and completed: a story's headline goes out with its
        # first copy, maybe before the other outlet's feed is polled (none new is not all in).
        wait_for(lambda: len(delivered()) == 2 * 18 and pending() == 0 and unsent() == 0
                 and stored() == 36, timeout=90)
        counts = delivered()
        assert sorted(counts) == sorted((hook, story_text(n)[0]) for hook in ("/hook-a", "/hook-b")
                                        for n in range(18))
        assert set(counts.values()) == {1}, [key for key, n in counts.items() if n > 1]

        # every feed the dead instance had polled was polled again by the others in time
        assert last_by_dead, "instance 1 polled no feed before it was killed"
        survivors = [(at, path) for instance in (2, 3) for at, path in gets(site, instance)]
        for path in last_by_dead:
            after = [at for at, polled in survivors if polled == path and at > killed]
            assert after and min(after) - killed <= INTERVAL + 3, (path, after)

        with connect(postgres_url) as db:
            # one story per pair of copies, whichever instances completed them
            assert db.execute("SELECT COUNT(DISTINCT story_id), COUNT(*) FROM items"
                              ).fetchone() == (18, 36)
            assert db.execute("SELECT COUNT(*) FROM (SELECT story_id FROM items GROUP BY "
                              "story_id HAVING COUNT(*) != 2) AS odd").fetchone() == (0,)
            # (a second outlet's copy after the headline went out waits for the digest)
            assert db.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'alert' "
                              "AND status != 'sent'").fetchone() == (0,)
        for daemon in daemons[1:]:
            assert daemon.stop() == 0, daemon.log()
    finally:
        for daemon in daemons:
            daemon.close()


def test_an_instance_paused_past_its_lease_stalls_no_one_and_repeats_nothing(
        tmp_path: Path, site: Site, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGSTOP for three leases while the instance holds items in progress, then SIGCONT
    (issue 22): the other instance goes on meanwhile, and on waking the paused one discards
    the work the other took over instead of completing it (and sending its follow-ups) again.
    Each story reaches each URL of a two-URL channel once as a headline, once as a follow-up."""
    monkeypatch.setenv("MONITOR_DATABASE", postgres_url)
    farm: dict[int, list[int]] = {}
    publish(site, farm, 1, range(12))
    host = site.base.split("//")[1]
    configs = instance_configs(
        tmp_path, site, 2, {"a": [f"json://{host}/hook-a1", f"json://{host}/hook-a2"]},
        RULES.replace("[a, b]", "[a]"), dedup={"followups": "message"})

    def count(where: str) -> int:
        with connect(postgres_url) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {where}").fetchone()[0])

    paused = Daemon(configs[0])
    daemons = [paused]
    try:
        wait_for(lambda: any("/s" in path for _, path in gets(site, 1)) or not paused.alive(),
                 timeout=60)
        daemons.append(Daemon(configs[1]))
        wait_for(lambda: "monitor running" in daemons[1].log() or not daemons[1].alive(),
                 timeout=60)
        assert count("items WHERE state = 'new' AND lease_owner LIKE 'inst1:%'") > 0
        os.killpg(paused.process.pid, signal.SIGSTOP)
        try:
            done_before = count("items WHERE state = 'done'")
            wait_for(lambda: count("items WHERE state = 'done'") > done_before, timeout=3 * LEASE
                     + PAGE_SECONDS + 10)  # the other takes the paused one's work over
            time.sleep(max(0.0, 3 * LEASE))  # the pause lasts three leases at least
        finally:
            os.killpg(paused.process.pid, signal.SIGCONT)

        def posts() -> Counter[tuple[str, int]]:
            return Counter((hook, int(found.group(1))) for hook in ("/hook-a1", "/hook-a2")
                           for alert in posted_alerts(site, hook)
                           if (found := re.search(r"Quorvex(\d+)", alert["title"])))

        wait_for(lambda: sum(posts().values()) >= 2 * 2 * 12 and count(
            "items WHERE state = 'new'") == 0 and count("alerts WHERE status = 'pending'") == 0,
            timeout=90)
        for daemon in daemons:  # nothing was left for a late repeat to come from
            assert daemon.stop() == 0, daemon.log()
        assert posts() == {(hook, n): 2 for hook in ("/hook-a1", "/hook-a2") for n in range(12)}
        assert "this completion is discarded" in paused.log(), paused.log()
        assert count("items") == 24 and count("alerts WHERE status != 'sent'") == 0
    finally:
        for daemon in daemons:
            daemon.close()
