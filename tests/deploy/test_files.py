"""The operator's files in deploy/: the cluster's compose file, Prometheus's alert rules and
Grafana's dashboard parse and hold together; `named_metrics` is what tests/e2e/test_service.py
checks against a running daemon's /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "monitor.json"
CLUSTER = DEPLOY / "compose.cluster.yaml"
_METRIC = re.compile(r"\bmonitor_[a-z_]+")
_SERIES = ("_bucket", "_sum", "_count")  # a histogram's series, under its family's name


def expressions() -> list[str]:
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
             for rule in group["rules"]]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [rule["expr"] for rule in rules] + [target["expr"] for panel in panels
                                               for target in panel["targets"]]


def named_metrics() -> set[str]:
    """Every metric the rules and the dashboard name, as /metrics types it (`# TYPE
    monitor_alerts_total counter`; a histogram's `_bucket` by its family's name)."""
    found = set()
    for expr in expressions():
        for name in _METRIC.findall(expr):
            for suffix in _SERIES:
                name = name.removesuffix(suffix)
            found.add(name)
    return found


def test_the_alert_rules_are_complete_prometheus_rules() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rules: list[dict[str, Any]] = [rule for group in groups for rule in group["rules"]]
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    names = {rule["alert"] for rule in rules}  # what the issue asks an operator be told of
    assert {"MonitorFeedFailing", "MonitorDeadAlerts", "MonitorLeaseLost",
            "MonitorHeartbeatNotWritten", "MonitorInstanceDown"} <= names


def test_the_dashboard_is_a_grafana_dashboard_of_monitor_s_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"].count("(") == t["expr"].count(")")
                                        for t in panel["targets"])
    assert len(named_metrics()) >= 10


def test_the_cluster_runs_two_checked_instances_on_one_postgresql() -> None:
    compose = yaml.safe_load(CLUSTER.read_text())
    services = compose["services"]
    instances = [name for name in services if name != "postgres"]
    assert len(instances) == 2
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    for name in instances:
        service = services[name]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        url = urlsplit(service["environment"]["MONITOR_DATABASE"])
        assert url.scheme == "postgresql" and url.hostname == "postgres"
        assert url.password is None  # PGPASSWORD, from secrets.env: never in this file
        assert service["env_file"] == ["./secrets.env"]
    assert len({services[name]["hostname"] for name in instances}) == 2
    assert len({services[name]["ports"][0] for name in instances}) == 2
