"""`monitor alerts`, `monitor alerts retry` and `monitor notify test`, run as a user would."""

import json
from pathlib import Path

from tests.e2e.helpers import monitor_in, write_config
from tests.servers import FIXTURES, Route, Site, free_port


def newsroom(tmp_path: Path, site: Site, hook_port: int, **notify) -> Path:
    feed = (FIXTURES / "feeds" / "lemonde-international.xml").read_bytes()
    site.routes["/feed.xml"] = Route(feed.replace(b"{{BASE}}", site.base.encode()))
    return write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}],
                        {"hook": f"json://127.0.0.1:{hook_port}/hook"}, ["hook"],
                        "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0,
                        **({"notify": {"channels": {"hook": f"json://127.0.0.1:{hook_port}/hook"},
                                       "default": ["hook"], **notify}} if notify else {}))


def test_failed_then_dead_then_retried_and_delivered(tmp_path: Path, site: Site) -> None:
    port = free_port()
    config = newsroom(tmp_path, site, port, max_age="5s")  # no retry in time: the first failure
    # is the last
    assert monitor_in(tmp_path, "once", "--config", str(config)).returncode == 0

    listing = monitor_in(tmp_path, "alerts", "--config", str(config))
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "CHANNEL", "RULE", "TRIES", "CREATED",
                                "NEXT", "/", "SENT", "TITLE"]
    # the steak and the missiles: two stories for the rule `tomahawk`
    assert [line.split()[1:5] for line in lines[1:-1] if line.split()[0].isdigit()] == \
        [["dead", "hook", "tomahawk", "1"]] * 2
    assert "last error: " in listing.stdout and "127.0.0.1" in listing.stdout
    assert lines[-1] == "2 alert(s); times in Europe/Paris (notify.timezone)"
    assert "0 alert(s)" in monitor_in(tmp_path, "alerts", "--status", "sent",
                                      "--config", str(config)).stdout

    # Requeued with a new age limit from the config: an hour, not 5 s, so that a slow start of
    # the next `monitor once` on a loaded machine does not let them expire again unsent.
    assert newsroom(tmp_path, site, port, max_age="1h") == config
    retried = monitor_in(tmp_path, "alerts", "retry", "--dead", "--config", str(config))
    assert retried.returncode == 0 and retried.stdout.startswith("2 alert(s) requeued")
    with Site(port=port) as catcher:
        assert monitor_in(tmp_path, "once", "--config", str(config)).returncode == 0
        titles = sorted(json.loads(r.body)["title"] for r in catcher.got("POST", "/hook"))
    assert titles == ["Le tomahawk, star des barbecues d’hiver",
                      "Washington autorise la livraison de missiles Tomahawk à l’Ukraine"]
    sent = monitor_in(tmp_path, "alerts", "--status", "sent", "--config", str(config))
    assert sent.stdout.splitlines()[-1].startswith("2 alert(s);")


def test_retry_by_id(tmp_path: Path, site: Site) -> None:
    config = newsroom(tmp_path, site, free_port(), max_age="5s")
    monitor_in(tmp_path, "once", "--config", str(config))
    assert monitor_in(tmp_path, "alerts", "retry", "1", "--config", str(config)).stdout \
        .startswith("1 alert(s) requeued")
    assert monitor_in(tmp_path, "alerts", "--status", "pending", "--config", str(config)) \
        .stdout.splitlines()[-1].startswith("1 alert(s);")
    missing = monitor_in(tmp_path, "alerts", "retry", "999", "--config", str(config))
    assert missing.returncode == 1 and missing.stdout.startswith("0 alert(s) requeued")
    assert monitor_in(tmp_path, "alerts", "retry", "--config", str(config)).returncode == 2


def test_notify_test_reports_each_url(tmp_path: Path, site: Site) -> None:
    dead = free_port()
    config = write_config(tmp_path, [], {"ok": f"json://{site.base.split('//')[1]}/hook",
                                         "down": f"json://127.0.0.1:{dead}/x"}, ["ok"], "rules: []\n")
    result = monitor_in(tmp_path, "notify", "test", "--config", str(config))
    assert result.returncode == 1
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()
             if line.startswith(("ok:", "down:", "console:"))}
    assert lines["console"] == "console: ok"
    assert lines["ok"].startswith(f"ok: json://{site.base.split('//')[1]}/hook") and \
        lines["ok"].endswith(": ok")
    assert lines["down"].startswith(f"down: json://127.0.0.1:{dead}/x")
    assert "FAILED: A Connection error occurred" in lines["down"]
    assert monitor_in(tmp_path, "notify", "test", "ok", "--config", str(config)).returncode == 0
    assert monitor_in(tmp_path, "notify", "test", "nope", "--config", str(config)).returncode == 2


def test_a_sent_alert_is_not_sent_again_by_retry(tmp_path: Path, site: Site) -> None:
    port = free_port()
    config = newsroom(tmp_path, site, port)
    with Site(port=port) as catcher:
        assert monitor_in(tmp_path, "once", "--config", str(config)).returncode == 0
        assert len(catcher.got("POST", "/hook")) == 2
        again = monitor_in(tmp_path, "alerts", "retry", "1", "999", "--config", str(config))
        assert again.returncode == 1 and again.stdout.startswith("0 alert(s) requeued")
        assert again.stderr.splitlines() == [
            "monitor: alert 1: already sent, not sent again", "monitor: alert 999: no such alert"]
        assert monitor_in(tmp_path, "once", "--config", str(config)).returncode == 0
        assert len(catcher.got("POST", "/hook")) == 2


def test_held_alerts_are_listed_as_held_in_the_configured_zone(tmp_path: Path, site: Site) -> None:
    """`once` says "held until…"; `alerts` once listed them as pending, in the machine's zone,
    refused `--status held`, and counted failed ones under `--status pending`."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    port = free_port()
    config = write_config(
        tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}], {}, ["hook"],
        "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0,
        notify={"channels": {"hook": {"urls": [f"json://127.0.0.1:{port}/hook"],
                                      "digest": {"every": "6h"}}},
                "default": ["hook"], "timezone": "America/New_York"})
    feed = (FIXTURES / "feeds" / "lemonde-international.xml").read_bytes()
    site.routes["/feed.xml"] = Route(feed.replace(b"{{BASE}}", site.base.encode()))
    once = monitor_in(tmp_path, "once", "--config", str(config))
    assert ", 2 held (hook: 2 until " in once.stderr
    held = monitor_in(tmp_path, "alerts", "--status", "held", "--config", str(config))
    assert held.returncode == 0, held.stderr
    rows = [line.split() for line in held.stdout.splitlines()[1:-1] if line.split()[0].isdigit()]
    assert [row[1] for row in rows] == ["held", "held"]
    now = datetime.now(ZoneInfo("America/New_York"))
    assert {row[5] for row in rows} == {f"{now:%Y-%m-%d}"}  # created: today in New York
    assert abs(int(rows[0][6][:2]) - now.hour) in (0, 1, 23)
    assert held.stdout.splitlines()[-1] == \
        "2 alert(s); times in America/New_York (notify.timezone)"
    pending = monitor_in(tmp_path, "alerts", "--status", "pending", "--config", str(config))
    assert pending.stdout.splitlines()[-1].startswith("0 alert(s);")


def test_alerts_never_print_a_channel_secret(tmp_path: Path) -> None:
    """Errors are scrubbed when stored; an error stored unscrubbed (by an older version, or a
    path that forgot) is scrubbed again when listed."""
    import time

    from monitor.core.dedup import fingerprint
    from monitor.core.models import Alert, Article, Entry, StoryAssignment
    from monitor.runners.app import load_config
    from monitor.store.store import Store

    token = "T0KEN-secret-0123456789"
    config = write_config(tmp_path, [], {"slack": f"json://bot:{token}@127.0.0.1:9/hook"},
                          ["slack"], "rules: []\n")
    store, now = Store(load_config(config).database), time.time()
    try:
        store.feeds.record_success("https://a.fr/rss", now=now, next_check=now, etag=None,
                                   last_modified=None, body_hash=None,
                                   entries=[Entry("https://a.fr/rss", None, "https://a.fr/1", "T",
                                                  "", None)])
        (item,) = store.items.pending()
        article = Article("https://a.fr/1", "T", "", "texte", None, "A", "page")
        store.items.complete(item.id, now=now, article=article,
                             fingerprint=fingerprint(article, now),
                             assignment=StoryAssignment(None, "new"), matched=["r"],
                             alerts=[Alert("r", "slack", "T", {"title": "T"})])
        (alert,) = store.outbox.due(now + 1)
        store.outbox.mark_failed([alert.id], error=f"refused by json://bot:{token}@127.0.0.1",
                                 retry_at=None)
    finally:
        store.close()
    listing = monitor_in(tmp_path, "alerts", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    assert "last error: refused by json://bot:****@127.0.0.1" in listing.stdout
    assert token not in listing.stdout
