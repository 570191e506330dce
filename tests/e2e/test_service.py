"""The daemon as a service: systemd notifications, the health and metrics endpoint, the
container's entrypoint, and the deploy files' linters."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from monitor.store.store import Store
from tests.deploy.test_files import named_metrics
from tests.e2e.helpers import PROJECT, Daemon, environment, write_config
from tests.e2e.newsroom import RULES, serve_newsroom
from tests.servers import Site, free_port, wait_for


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_systemd_notifications_over_a_run(tmp_path, site: Site) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(30)
    config = write_config(tmp_path, [], {}, ["console"], "rules: []\n")
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"}
    process = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                               cwd=PROJECT, env=environment(env), stderr=subprocess.DEVNULL)
    env["WATCHDOG_PID"] = str(process.pid)
    received: list[str] = []
    try:
        while not any(m.startswith("READY=1") for m in received):
            received.append(sock.recv(4096).decode())
        while received.count("WATCHDOG=1") < 2:  # every second (half of WatchdogSec)
            received.append(sock.recv(4096).decode())
        process.send_signal(signal.SIGHUP)
        while not any(m.startswith("RELOADING=1") for m in received):
            received.append(sock.recv(4096).decode())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        while "STOPPING=1" not in received:
            received.append(sock.recv(4096).decode())
    finally:
        process.kill()
    ready = [m for m in received if m.startswith("READY=1")]
    assert ready[0] == "READY=1\nSTATUS=0 feed(s), 0 rule(s)"
    assert ready[-1].startswith("READY=1") and len(ready) == 2  # again after the reload


def test_health_and_metrics_endpoint(tmp_path, site: Site) -> None:
    port = free_port()
    feeds = serve_newsroom(site)
    config = write_config(tmp_path, feeds, {"hook": f"json://{site.base.split('//')[1]}/hook",
                                            "mail": "json://127.0.0.1:9/unused"},
                          ["hook"], RULES.replace("[hook, mail]", "[hook]"),
                          http={"listen": f"127.0.0.1:{port}"})
    daemon = Daemon(config)

    def settled() -> bool:
        """The nine articles completed (alerts may go out before the last feed's items are
        done: completion starts as each poll stores its items), and the four alerts counted
        as sent (the catcher has one before the daemon has its answer and records it)."""
        text = get(f"http://127.0.0.1:{port}/metrics")[1]
        articles = sum(float(n) for n in re.findall(
            r"^monitor_articles_total\{[^}]*\} (\S+)$", text, re.M))
        sent = re.search(r'^monitor_alerts_total\{channel="hook",result="sent"\} (\S+)$',
                         text, re.M)
        return articles == 9 and sent is not None and float(sent.group(1)) >= 4

    try:
        wait_for(lambda: not daemon.alive() or (len(site.got("POST", "/hook")) >= 4
                                                and settled()))
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        exposed = set(re.findall(r"^# TYPE (monitor_\w+) ", metrics, re.M))
        assert named_metrics() <= exposed  # deploy/'s alert rules and dashboard read real ones
        if not os.environ.get("MONITOR_DATABASE"):  # a SQLite file locked by someone else:
            with sqlite3.connect(tmp_path / "state" / "monitor.db") as other:  # not healthy,
                other.execute("BEGIN EXCLUSIVE")  # and it says why
                assert get(f"http://127.0.0.1:{port}/healthz") == (
                    503, "unhealthy: database not writable: database is locked\n")
                other.execute("ROLLBACK")
        assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.close()

    def value(name: str) -> float:
        found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.M)
        assert found, name
        return float(found.group(1))

    assert value('monitor_polls_total{status="new"}') == 5
    assert value('monitor_polls_total{status="malformed"}') == 1  # the truncated Figaro
    assert value('monitor_polls_total{status="failed"}') == 1
    assert value("monitor_items_new_total") == 9
    assert value('monitor_articles_total{source="page"}') == 6
    assert value('monitor_articles_total{source="feed"}') == 3
    assert value('monitor_matches_total{rule="tomahawk-ukraine"}') == 2  # two outlets…
    assert value('monitor_alerts_total{channel="hook",result="sent"}') == 4  # …one alert
    assert value("monitor_outbox_depth") == 1  # a follow-up ("also reported by") for its digest
    assert value("monitor_feeds_failing") == 1
    assert value("monitor_poll_not_modified_ratio") == 0
    assert value("monitor_poll_seconds_count") == 7
    assert value("monitor_pipeline_seconds_count") == 9
    assert 'monitor_feed_seconds_since_success{feed="Le Monde — Une"}' in metrics
    assert all(line.startswith(("monitor_", "#")) for line in metrics.splitlines() if line)


def test_feeds_command(tmp_path, site: Site) -> None:
    config = write_config(tmp_path, serve_newsroom(site), {}, ["console"], "rules: []\n")
    env = environment()
    run = [sys.executable, "-m", "monitor"]
    subprocess.run([*run, "once", "--config", str(config)], cwd=PROJECT, env=env, check=True,
                   capture_output=True)
    table = subprocess.run([*run, "feeds", "--config", str(config)], cwd=PROJECT, env=env,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["FEED", "STATUS", "LAST"]
    assert table[1].startswith("Ouest-France") and " FAILING " in table[1]
    assert table[2] == "    problem: HTTP 500"  # whole, on a line of its own
    monde = next(line for line in table if line.startswith("Le Monde — International"))
    # its items in the last 24 h: 3, or 1 when Le Monde — Une saw the two they share first
    assert " ok " in monde and re.search(r"\s[13]\s", monde)


def dockerfile() -> str:
    return (PROJECT / "deploy" / "Dockerfile").read_text()


@pytest.mark.sqlite  # the image's database: a file in its volume
def test_the_container_entrypoint_runs_outside_docker(tmp_path) -> None:
    """The image's CMD and ENV, run here: with the config at MONITOR_CONFIG and the working
    directory /data (a temporary one), it starts, reports healthy, and stops on SIGTERM."""
    text = dockerfile()
    command = re.search(r'^CMD \["(.+)"\]$', text, re.M).group(1).split('", "')
    assert command == ["monitor", "run"]
    healthcheck = json.loads(re.search(r"^\s*CMD (\[.+\])$", text.split("HEALTHCHECK", 1)[1],
                                       re.M).group(1))
    data, conf = tmp_path / "data", tmp_path / "config"
    data.mkdir()
    conf.mkdir()
    port = free_port()
    (conf / "config.yaml").write_text(
        f"database: {data}/monitor.db\nrules: []\nfeeds: []\nhttp: {{listen: 127.0.0.1:{port}}}\n")
    env = environment({"MONITOR_CONFIG": str(conf / "config.yaml")})
    process = subprocess.Popen([sys.executable, "-m", *command], cwd=data, env=env,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: get_or_none(f"http://127.0.0.1:{port}/healthz") == 200)
        probe = [part.replace("9321", str(port)) for part in healthcheck]
        probe[0] = sys.executable if probe[0] == "python" else probe[0]
        assert subprocess.run(probe, env=env, cwd=data, timeout=30).returncode == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert (data / "monitor.db").exists()


def test_health_says_degraded_while_another_instance_holds_the_stories_lock(
        tmp_path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A healthy instance waiting on a lock a paused one holds goes on (it retries at the next
    tick): 200, but /healthz, the console and the metrics say what it waits on."""
    monkeypatch.setenv("MONITOR_DATABASE", postgres_url)
    port = free_port()
    health = f"http://127.0.0.1:{port}/healthz"
    config = write_config(tmp_path, [], {}, ["console"], "rules: []\n", lease="8s",
                          poll={"tick": "1s"}, http={"listen": f"127.0.0.1:{port}"})
    daemon, other = Daemon(config), Store(postgres_url)
    try:
        wait_for(lambda: get_or_none(health) == 200)
        assert get(health) == (200, "ok\n")
        with other.transaction(lock="stories"):  # another instance, deciding stories, paused
            wait_for(lambda: get(health)[1].startswith("degraded: "))
            status, text = get(health)
            assert status == 200 and "waiting on the stories lock" in text, text
            assert "lock stayed taken" not in text  # the details: the console's, not everyone's
            page = get(f"http://127.0.0.1:{port}/flux")[1]
            assert "Fonctionnement dégradé" in page and "lock stayed taken" in page
        wait_for(lambda: get(health) == (200, "ok\n"))  # the next pass took it: over
        assert re.search(r'^monitor_troubles_total\{kind="stories-lock"\} [1-9]',
                         get(f"http://127.0.0.1:{port}/metrics")[1], re.M)
        assert daemon.stop() == 0, daemon.log()
    finally:
        other.close()
        daemon.close()


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


def test_dockerfile_is_lint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(PROJECT / "deploy" / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_and_keeps_no_build_tools() -> None:
    text = dockerfile()
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER \d+", final, re.M)
    assert "gcc" not in final and "build-essential" not in final
    assert 'VOLUME ["/data"]' in final and "HEALTHCHECK" in final


def test_systemd_unit() -> None:
    unit = (PROJECT / "deploy" / "monitor.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                 "StateDirectory=monitor", "ConfigurationDirectory=monitor", "DynamicUser=yes",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "LimitNOFILE=65536"):
        assert line in unit, line


def test_the_image_config_opens_the_console_only_behind_a_token(tmp_path) -> None:
    """The Dockerfile's edits of config.yaml, applied here: the console listens beyond the
    container, and the config is refused until MONITOR_CONSOLE_TOKEN is set."""
    edits = re.findall(r"-e '([^']+)'", dockerfile())
    assert len(edits) == 2
    config = tmp_path / "config.yaml"
    config.write_text((PROJECT / "config.yaml").read_text().replace("rules: rules/", "rules: []"))
    subprocess.run(["sed", "-i", *(arg for edit in edits for arg in ("-e", edit)), str(config)],
                   check=True)
    loaded = yaml.safe_load(config.read_text())
    assert loaded["http"] == {"listen": "0.0.0.0:9321",
                              "auth": {"token": "${MONITOR_CONSOLE_TOKEN}"}}
    check = [sys.executable, "-m", "monitor", "check", "--config", str(config)]
    refused = subprocess.run(check, env=environment(), capture_output=True, text=True)
    assert refused.returncode == 2 and "MONITOR_CONSOLE_TOKEN" in refused.stderr
    accepted = subprocess.run(check, env=environment({"MONITOR_CONSOLE_TOKEN": "t" * 24}),
                              capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
