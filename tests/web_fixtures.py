"""A small newsroom's state for the console's tests: two feeds, a story from both, a hostile
title, a dead alert and a sent one, written through the store's own methods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from monitor.config.config import Config
from monitor.core.dedup import evidence, fingerprint
from monitor.core.models import Alert, Article, Entry, StoryAssignment
from monitor.core.rules import RuleSet
from monitor.runners.app import load_config, load_rules
from monitor.store.store import Store

FEED_A = "http://127.0.0.1:9/a.xml"
FEED_B = "http://127.0.0.1:9/b.xml"
SECRET = "s3cr3t-t0ken-xyz"
HOSTILE = "<script>document.title='pwned'</script> Tempête à Brest"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()

RULES = """rules:
  - name: ukraine
    description: Livraisons d'armes à l'Ukraine
    any: [Ukraine]
    notify: [team]
  - name: tempete
    any: [tempête]
    notify: [team]
    priority: high

"""


@dataclass
class Newsroom:
    config: Config
    rules: RuleSet
    store: Store
    story: int  # the Ukraine story, from both outlets
    hostile_story: int
    dead_alert: int
    sent_alert: int


def write_newsroom_config(directory: Path, **http: object) -> Path:
    (directory / "rules").mkdir(exist_ok=True)
    (directory / "rules" / "rules.yaml").write_text(RULES, encoding="utf-8")
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({
        "database": "monitor.db", "rules": "rules/",
        "feeds": [{"name": "Le Quotidien", "url": FEED_A, "tags": ["national"]},
                  {"name": "La Gazette", "url": FEED_B}],
        "notify": {"channels": {"team": f"json://bot:{SECRET}@127.0.0.1:9/hook",
                                "astreinte": "json://127.0.0.1:9/astreinte"},
                   "default": ["team"], "priority": {"high": ["astreinte"]}},
        "http": {"listen": "127.0.0.1:0", **http}}, allow_unicode=True), encoding="utf-8")
    return path


def _article(entry: Entry, outlet: str, text: str) -> Article:
    return Article(entry.link, entry.title, entry.summary, text, entry.published, outlet, "page",
                   feed_url=entry.feed_url)


def newsroom(directory: Path, **http: object) -> Newsroom:
    config = load_config(write_newsroom_config(directory, **http))
    rules = load_rules(config)
    store = Store(config.database)
    store.feeds.sync([(FEED_A, "Le Quotidien", True), (FEED_B, "La Gazette", True)], NOW - 3600)
    published = datetime.fromtimestamp(NOW - 1800, UTC)
    entries = {
        "a1": Entry(FEED_A, None, "https://quotidien.example/ukraine", "Missiles pour l'Ukraine",
                    "Kiev attend des missiles.", published),
        "b1": Entry(FEED_B, None, "https://gazette.example/ukraine", "L'Ukraine recevra des missiles",
                    "Des missiles pour Kiev.", published),
        "a2": Entry(FEED_A, None, "https://quotidien.example/tempete", HOSTILE,
                    "La tempête <b>frappe</b> Brest.", published),
    }
    store.feeds.record_success(FEED_A, now=NOW - 60, next_check=NOW + 600, etag='"1"',
                               last_modified=None, body_hash="x", entries=[entries["a1"], entries["a2"]])
    store.feeds.record_success(FEED_A, now=NOW - 30, next_check=NOW + 600, etag='"1"',
                               last_modified=None, body_hash="x", not_modified=True)
    store.feeds.record_success(FEED_B, now=NOW - 60, next_check=NOW + 600, etag=None,
                               last_modified=None, body_hash="y", entries=[entries["b1"]])
    store.feeds.record_failure(FEED_B, now=NOW - 10, next_check=NOW + 60,
                               error=f"HTTP 503 from json://bot:{SECRET}@x")
    ids = {item.entry.link: item.id for item in store.items.pending()}
    text = "Les missiles de croisière destinés à l'Ukraine arriveront avant l'hiver. " * 20

    def complete(key: str, outlet: str, story: int | None, rules_matched: list[str],
                 alerts: list[Alert]) -> int:
        entry = entries[key]
        article = _article(entry, outlet, text if key != "a2" else "La tempête frappe Brest.")
        assignment = StoryAssignment(story, "new", 0.8) if story is None else StoryAssignment(
            story, "similar-words", 0.8, shared=("missil", "kiev"))
        printed = fingerprint(article, NOW - 20)
        story_id, _ = store.items.complete(
            ids[entry.link], now=NOW - 20, article=article, fingerprint=printed,
            assignment=assignment, matched=rules_matched, alerts=alerts,
            evidence=evidence(assignment, article, printed))
        return story_id

    alert = Alert("ukraine", "team", "Missiles pour l'Ukraine", {"title": "Missiles"})
    story = complete("a1", "Le Quotidien", None, ["ukraine"], [alert])
    complete("b1", "La Gazette", story, ["ukraine"], [])
    storm = Alert("tempete", "team", HOSTILE, {"title": HOSTILE})
    hostile_story = complete("a2", "Le Quotidien", None, ["tempete"], [storm])
    rows = {row.rule: row.id for row in store.console.alert_rows(now=NOW)}
    store.outbox.mark_failed([rows["tempete"]], error=f"refused by json://bot:{SECRET}@127.0.0.1:9",
                             retry_at=None)
    store.outbox.mark_sent([rows["ukraine"]], NOW - 10)
    return Newsroom(config, rules, store, story, hostile_story, rows["tempete"], rows["ukraine"])
