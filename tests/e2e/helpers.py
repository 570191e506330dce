"""Running the real `monitor` command against local servers, as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.servers import Site

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
