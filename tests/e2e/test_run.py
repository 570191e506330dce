"""`monitor run`: the daemon polls on its schedule, alerts, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml

from tests.db import connect
from tests.e2e.helpers import (
    FEED,
    ITEM,
    Daemon,
    posted_alerts,
    write_config,
)
from tests.e2e.newsroom import RULES, serve_newsroom
from tests.servers import Route, Site, wait_for


def newsroom_config(tmp_path: Path, site: Site) -> Path:
    """The local newsroom's feeds, alerts to a webhook on `site`."""
    return write_config(tmp_path, serve_newsroom(site),
                        {"hook": f"json://{site.base.split('//')[1]}/hook",
                         "mail": "json://127.0.0.1:9/unused"},
                        ["hook"], RULES.replace("[hook, mail]", "[hook]"))


def completed(directory: Path) -> int:
    """How many items are completed, 0 before the database is there."""
    try:
        with connect(directory / "state" / "monitor.db") as db:
            return int(db.execute("SELECT COUNT(*) FROM items WHERE state = 'done'"
                                  ).fetchone()[0])
    except Exception:  # not created yet (SQLite: a file with no table; PostgreSQL: none)
        return 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_alerts_then_stops_cleanly(tmp_path, site: Site, signum: int) -> None:
    config = newsroom_config(tmp_path, site)
    daemon = Daemon(config)
    try:  # and the nine articles completed: an alert may go out before the last feed's items
        # are (completion starts as each poll stores them), and stopping leaves those new
        wait_for(lambda: len(posted_alerts(site)) >= 4 and completed(tmp_path) == 9
                 or not daemon.alive())
        code = daemon.stop(signum)
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "monitor running: 7 feed(s), 4 rule(s)" in err
    assert "stopped" in err
    assert "worker" not in err  # none died of the signal, none hung
    wait_for(lambda: not daemon.group_alive(), timeout=10)  # no process left behind
    assert len(posted_alerts(site)) == 4
    with connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'").fetchone()[0] == 0
        assert db.execute("SELECT status, COUNT(*) FROM alerts WHERE kind = 'alert' "
                          "GROUP BY status").fetchall() == [("sent", 4)]


def test_daemon_with_no_feeds_idles_until_stopped(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\nrules: []\n")
    daemon = Daemon(config)
    try:  # ready (its signal handlers set) once it says it idles; slow to start on a busy machine
        wait_for(lambda: "no feeds configured: idle" in daemon.log() or not daemon.alive())
        time.sleep(0.5)
        assert daemon.alive()
        code = daemon.stop()
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "no feeds configured: idle" in err and "stopped" in err


def serve_feed(site: Site, *titles: str) -> None:
    items = "".join(ITEM.format(title=t, base=site.base, slug=f"a{i}") for i, t in enumerate(titles))
    site.routes["/feed.xml"] = Route(FEED.format(items=items).encode())


def reload_setup(tmp_path, site: Site, watch: bool):
    serve_feed(site, "Grève à la SNCF")
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml"),
                                      "interval": "1s"}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"],
                          "rules:\n  - {name: meteo, any: [tempête]}\n",
                          poll={"tick": "1s"}, watch_rules=watch)
    return config, tmp_path / "rules" / "rules.yaml"


def settled(directory: Path) -> bool:
    """No item left to complete, no alert left to send."""
    with connect(directory / "state" / "monitor.db") as db:
        return db.execute("SELECT (SELECT COUNT(*) FROM items WHERE state = 'new') + "
                          "(SELECT COUNT(*) FROM alerts WHERE status = 'pending')"
                          ).fetchone()[0] == 0


def test_rule_files_are_reloaded_when_they_change(tmp_path, site: Site) -> None:
    config, rule_file = reload_setup(tmp_path, site, watch=True)
    daemon = Daemon(config)
    try:  # the first item completed under the old rules (its page fetched is not enough)
        wait_for(lambda: item_state(tmp_path, "/a0") == "done")
        rule_file.write_text("rules:\n  - {name: broken, any: [{regex: '('}]}\n")
        wait_for(lambda: "rules not reloaded" in daemon.log() or not daemon.alive())
        rule_file.write_text("rules:\n  - {name: greve, any: [grève]}\n")
        wait_for(lambda: "rules reloaded" in daemon.log() or not daemon.alive())
        serve_feed(site, "Grève à la SNCF", "Nouvelle grève à la RATP")
        # Every item completed and every alert out: a second alert would have been sent by now.
        wait_for(lambda: settled(tmp_path) and len(posted_alerts(site)) >= 1
                 or not daemon.alive())
        code = daemon.stop()
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "not reloaded: " in err and "invalid regular expression" in err
    assert "the running config and its 1 rule(s) keep running" in err
    assert "config and rules reloaded (files changed): 1 feed(s), 1 channel(s), 1 rule(s)" in err
    # The new rule applies to new items only: the strike seen before the reload gives no alert.
    assert [a["title"] for a in posted_alerts(site)] == ["Nouvelle grève à la RATP"]


def item_state(tmp_path: Path, path: str) -> str | None:
    """The state of the item whose link ends with `path`, None before it is stored."""
    try:
        with connect(tmp_path / "state" / "monitor.db") as db:
            row = db.execute("SELECT state FROM items WHERE link LIKE ?", (f"%{path}",)
                             ).fetchone()
    except Exception:  # the database not created yet
        return None
    return row[0] if row else None


def test_sighup_reloads_rules(tmp_path, site: Site) -> None:
    config, rule_file = reload_setup(tmp_path, site, watch=False)
    daemon = Daemon(config)
    try:  # the first item completed under the old rules (its page fetched is not enough)
        wait_for(lambda: item_state(tmp_path, "/a0") == "done")
        rule_file.write_text("rules:\n  - {name: greve, any: [grève]}\n")
        serve_feed(site, "Grève à la SNCF", "Nouvelle grève à la RATP")
        # completed under the old rules (its page fetched is not enough: a loaded machine may
        # match it only after the SIGHUP below)
        wait_for(lambda: item_state(tmp_path, "/a1") == "done")
        assert "rules reloaded" not in daemon.log()  # not watching: the change is not seen
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "rules reloaded" in daemon.log() or not daemon.alive())
        serve_feed(site, "Grève à la SNCF", "Nouvelle grève à la RATP", "Grève des contrôleurs")
        wait_for(lambda: len(posted_alerts(site)) >= 1 or not daemon.alive())
        code = daemon.stop()
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "config and rules reloaded (SIGHUP): 1 feed(s), 1 channel(s), 1 rule(s)" in err
    assert [a["title"] for a in posted_alerts(site)] == ["Grève des contrôleurs"]


def test_sighup_reloads_feeds_and_channels_and_keeps_a_broken_config_out(tmp_path, site) -> None:
    """A feed and a channel added to config.yaml are taken up on SIGHUP, without a restart; a
    config with a mistake is refused whole, and the running one goes on; a setting that needs a
    restart says so."""
    config, _ = reload_setup(tmp_path, site, watch=False)
    site.routes["/other.xml"] = Route(FEED.format(items=ITEM.format(
        title="Tempête sur la Manche", base=site.base, slug="b0")).encode())
    settings = yaml.safe_load(config.read_text())
    daemon = Daemon(config)
    try:
        wait_for(lambda: any(r.path == "/a0" for r in site.got("GET")))
        broken = {**settings, "feeds": [*settings["feeds"], {"name": "Autre", "url": "ftp://x"}]}
        config.write_text(yaml.safe_dump(broken, allow_unicode=True))
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "config and rules not reloaded" in daemon.log() or not daemon.alive())
        settings["feeds"].append({"name": "Autre", "url": site.url("/other.xml")})
        settings["notify"]["channels"]["desk"] = f"json://{site.base.split('//')[1]}/desk"
        settings["notify"]["default"] = ["desk"]
        settings["workers"] = 1
        config.write_text(yaml.safe_dump(settings, allow_unicode=True))
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: len(site.got("POST", "/desk")) >= 1 or not daemon.alive())
        code = daemon.stop()
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "feeds[1].url: 'ftp://x' is not an http(s) URL" in err
    assert "config and rules reloaded (SIGHUP): 2 feed(s), 2 channel(s), 1 rule(s)" in err
    assert "workers changed: taken up at the next restart" in err
    assert [a["title"] for a in posted_alerts(site, "/desk")] == ["Tempête sur la Manche"]
    assert site.got("POST", "/hook") == []


def test_a_slow_channel_never_holds_up_polling(tmp_path, site: Site) -> None:
    """Five alerts to a webhook that takes 2 s an answer: while they drain, a new item is
    polled and completed."""
    names = ["Bravik", "Kellone", "Dormuth", "Mavsard", "Tulgova", "Zenrik"]

    def serve(count: int) -> None:
        items = "".join(f"<item><title>Tomahawk chez {name}</title><link>{site.base}/t{n}</link>"
                        f"<description>Tomahawk chez {name}.</description></item>"
                        for n, name in enumerate(names[:count]))
        site.routes["/feed.xml"] = Route(FEED.format(items=items).encode())

    serve(5)
    site.post_delay = 2.0
    config = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"],
                          "rules:\n  - {name: tomahawk, any: [tomahawk]}\n",
                          poll={"interval": "1s", "tick": "1s"}, workers=0)
    daemon = Daemon(config)
    try:
        wait_for(lambda: site.got("POST", "/hook") or not daemon.alive())
        serve(6)  # a new item while four alerts still wait for the slow webhook
        wait_for(lambda: completed(tmp_path) == 6 or not daemon.alive(), timeout=30)
        assert len(site.got("POST", "/hook")) < 5, "polling waited for the delivery backlog"
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.close()


def test_a_rule_file_caught_empty_mid_save_keeps_the_running_rules(tmp_path, site: Site) -> None:
    config, rule_file = reload_setup(tmp_path, site, watch=True)
    daemon = Daemon(config)
    try:
        wait_for(lambda: any(r.path == "/a0" for r in site.got("GET")))
        rule_file.write_text("")  # an editor truncates the file, and stops there
        wait_for(lambda: "became empty" in daemon.log() or not daemon.alive())
        rule_file.write_text("rules:\n  - {name: greve, any: [grève]}\n")  # then writes it
        wait_for(lambda: "rules reloaded" in daemon.log() or not daemon.alive())
        code = daemon.stop()
    finally:
        daemon.close()
    err = daemon.log()
    assert code == 0, err
    assert "the previous 1 rule(s) keep running" in err and "0 rule(s)" not in err
    assert "config and rules reloaded (files changed): 1 feed(s), 1 channel(s), 1 rule(s)" in err


@pytest.mark.sqlite  # on PostgreSQL, instances share the database by name
def test_a_second_process_on_the_same_database_refuses_to_start(tmp_path, site: Site) -> None:
    """A second daemon, or a cron `monitor once` beside the daemon, would build its own story
    index and send what is due a second time: it stops with one line instead."""
    from tests.e2e.helpers import monitor_in

    config = newsroom_config(tmp_path, site)
    daemon = Daemon(config)
    try:
        wait_for(lambda: len(posted_alerts(site)) >= 4 or not daemon.alive())
        for command in ("once", "run"):
            second = monitor_in(tmp_path, command, "--config", str(config), timeout=60)
            assert second.returncode == 2, second.stderr
            assert second.stderr.strip().splitlines()[-1] == (
                f"monitor: {tmp_path / 'state' / 'monitor.db'}: another monitor (pid "
                f"{daemon.process.pid}) is working on this database; stop it first, or give "
                "this one a `database:` of its own")
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.close()
    assert len(posted_alerts(site)) == 4  # nothing sent twice
    again = monitor_in(tmp_path, "once", "--config", str(config), timeout=60)
    assert again.returncode == 0, again.stderr  # the lock went with the daemon
