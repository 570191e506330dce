"""`monitor run`: the daemon polls on its schedule, alerts, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.e2e.helpers import PROJECT, environment, posted_alerts, write_config
from tests.e2e.test_once import RULES, serve_newsroom
from tests.servers import Site


def start(config) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                            cwd=PROJECT, env=environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_alerts_then_stops_cleanly(tmp_path, site: Site, signum: int) -> None:
    feeds = serve_newsroom(site)
    config = write_config(tmp_path, feeds, {"hook": f"json://{site.base.split('//')[1]}/hook",
                                            "mail": "json://127.0.0.1:9/unused"},
                          ["hook"], RULES.replace("[hook, mail]", "[hook]"))
    daemon = start(config)
    try:
        wait_for(lambda: len(posted_alerts(site)) >= 4 or daemon.poll() is not None)
        daemon.send_signal(signum)
        out, err = daemon.communicate(timeout=60)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err
    assert "monitor running: 7 feed(s), 4 rule(s)" in err
    assert "stopped" in err
    assert len(posted_alerts(site)) == 4
    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'").fetchone()[0] == 0
        assert db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall() == \
            [("sent", 4)]


def test_daemon_with_no_feeds_idles_until_stopped(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\nrules: []\n")
    daemon = start(config)
    try:
        time.sleep(1.5)
        assert daemon.poll() is None  # still running
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err
    assert "no feeds configured: idle" in err and "stopped" in err
