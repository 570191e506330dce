"""Running the real `monitor` command against local servers, as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.servers import Site, wait_for

PROJECT = Path(__file__).resolve().parents[2]


def write_config(directory: Path, feeds: list[dict], channels: dict[str, str],
                 default: list[str], rules: str, **extra: object) -> Path:
    (directory / "rules").mkdir(exist_ok=True)
    (directory / "rules" / "rules.yaml").write_text(rules, encoding="utf-8")
    config = {
        "database": "state/monitor.db",
        "rules": "rules/",
        "network": {"allow_private_addresses": True, "timeout": "10s"},
        "feeds": feeds,
        "notify": {"channels": channels, "default": default},
        **extra,
        # Fixtures are dated: every item of a first poll may alert, unless a test says otherwise.
        "poll": {"backfill": "all", **extra.get("poll", {})},
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def environment(extra: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    return {**env, "PYTHONPATH": str(PROJECT), **(extra or {})}


def monitor(*args: str, timeout: float = 120, env: dict | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """`python -m monitor ARGS` from the project directory."""
    return monitor_in(PROJECT, *args, timeout=timeout, env=env)


def monitor_in(directory: Path, *args: str, timeout: float = 120, env: dict | None = None,
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=timeout, env=environment(env), cwd=directory)


def posted_alerts(site: Site, path: str = "/hook") -> list[dict]:
    return [json.loads(request.body) for request in site.got("POST", path)]


def rule_of(message: str) -> str:
    found = re.search(r"Règle :(?:\*\*)? (\S+)", message)
    assert found, message
    return found.group(1)


FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Le Fil</title>
{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{base}/{slug}</link><description>{title}</description></item>"


class Daemon:
    """`monitor run` in a subprocess, its log going to a file the test can read as it runs."""

    def __init__(self, config: Path) -> None:
        self.log_path = config.parent / "daemon.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(  # a process group of its own, as in a terminal
            [sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=PROJECT,
            env=environment(), stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send `signum` (SIGINT to the whole group, as Ctrl-C does) and wait for the exit code."""
        if signum == signal.SIGINT:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=60)
        finally:
            self.close()

    def close(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()
        self._log.close()

    def group_gone(self) -> bool:
        return not self.group_alive()

    def wait_for_group_gone(self, timeout: float = 30.0) -> None:
        """Wait until no process of the daemon's group is left; name the survivors if any."""
        try:
            wait_for(self.group_gone, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"left behind: {self.group_commands()}") from None

    def group_commands(self) -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.getpgid(int(proc.name)) == self.process.pid:
                    found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, ValueError):
                continue
        return found

    def group_alive(self) -> bool:
        """Whether any process of the daemon's group (its workers, their fork server) remains."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True
