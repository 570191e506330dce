"""What each console page shows, as plain JSON-ready data: the HTML page renders it, its `/api/`
twin returns it as is. Dates are ISO 8601 in `notify.timezone`; channel URLs are masked and
errors scrubbed of their secrets before they get here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from monitor.config.config import CONSOLE, Config
from monitor.core import secrets
from monitor.core.models import feed_status
from monitor.core.rules import RuleSet
from monitor.core.units import parse_duration
from monitor.store.console import AlertRow, ItemRow, StoryRow
from monitor.store.roles import ConsoleStorage
from monitor.web import auth, charts, rulefeeds

DAY = 86400.0
PERIODS = ("24h", "7j", "30j", "90j")  # offered; any period (`3j`, `12h`) is understood
_SEVERITY = {"FAILING": 0, "silent": 1, "malformed": 2, "never polled": 3, "ok": 4, "disabled": 5}
FEED_STATES = {"FAILING": "en échec", "silent": "muet", "malformed": "malformé",
               "never polled": "jamais lu", "ok": "ok", "disabled": "désactivé"}
SORTS = {"recent": "les plus récents", "taille": "les plus gros", "etendue": "les plus repris"}
ALERT_STATES = {"pending": "en attente", "held": "retenue", "failed": "en échec",
                "sent": "envoyée", "dead": "abandonnée", "muted": "sujet en sourdine"}


class NotFound(LookupError):
    pass


class Refused(ValueError):
    """A parameter the page cannot use (answered 400, with this message)."""


@dataclass
class ReloadLog:
    """The daemon's last reload of config.yaml and the rules, for the rules page."""

    at: float | None = None
    ok: bool = True
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    def record(self, at: float, reason: str, problems: Sequence[str] = ()) -> None:
        self.at, self.ok, self.reason, self.problems = at, not problems, reason, list(problems)


def iso(stamp: float | None, zone: ZoneInfo) -> str | None:
    return datetime.fromtimestamp(stamp, zone).isoformat(timespec="seconds") \
        if stamp is not None else None


@lru_cache(maxsize=256)
def _masked(url: str) -> str:
    return secrets.masked(url)


def channel_targets(config: Config, channel: str) -> list[str]:
    if channel == CONSOLE:
        return ["console (sortie standard du démon)"]
    found = config.notify.channels.get(channel)
    if found is None:
        return []
    targets = [_masked(url) for url in found.urls]
    if found.config is not None:
        targets.append(f"fichier de configuration Apprise {found.config.name}")
    return targets


# -- Flux ------------------------------------------------------------------------------------------

def feeds_page(store: ConsoleStorage, config: Config, now: float) -> dict[str, Any]:
    zone = config.notify.zone
    states = {state.url: state for state in store.feeds.all()}
    counts = store.feeds.items_per_feed(now - DAY)
    ids = store.console.feed_ids()
    counters = store.console.feed_counters()
    today = int(now // DAY)
    weeks = store.console.feed_days(today - 6)
    urls = config.notify.all_urls()
    rows: list[dict[str, Any]] = []
    for feed in config.feeds:
        state = states.get(feed.url)
        polls, unchanged = counters.get(feed.url, (0, 0))
        problem = (state.last_error if state.failures else state.warning) if state else None
        rows.append({
            "id": ids.get(feed.url), "name": feed.name, "url": feed.url, "tags": list(feed.tags),
            "status": (status := feed_status(feed.enabled, state)),
            "status_label": FEED_STATES[status],
            "last_success": iso(state.last_success, zone) if state else None,
            "failures": state.failures if state else 0,
            "problem": secrets.scrub(problem, urls) if problem else None,
            "items_24h": counts.get(feed.url, 0),
            "next_poll": iso(max(state.next_check, now), zone) if state and feed.enabled else None,
            "polls": polls, "not_modified": unchanged,
            "week": charts.poll_week(weeks.get(feed.url, {}), today),
            "not_modified_ratio": round(unchanged / polls, 3) if polls else None})
    rows.sort(key=lambda row: (_SEVERITY.get(row["status"], 9), -row["failures"], row["name"]))
    return {"feeds": rows, "timezone": config.notify.timezone}


# Why an article joined its story, in the console's language (stored in English, as
# `stories --json` and the logs give it).
JOINED_BY = {"new": "nouveau sujet", "same-url": "même adresse", "same-text": "même texte",
             "near-copy": "copie presque identique", "similar-words": "mots en commun"}


def joined_by(reason: str | None, evidence: str | None = None) -> str:
    """« même événement : Meurtre de Louise », « mots en commun : Retailleau, Wauquiez »: the
    article's own words where they were stored (older items have the event's key only)."""
    if not reason:
        return ""
    kind, _, event = reason.partition(" ")
    if kind == "same-event":
        return f"même événement : {evidence or event}"
    label = JOINED_BY.get(reason, reason)
    return f"{label} : {evidence}" if evidence else label


def _item(item: ItemRow, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "link": item.link, "outlet": item.outlet,
            "published": iso(item.published, zone), "seen": iso(item.seen_at, zone),
            "state": item.state, "source": item.source, "rules": list(item.rules),
            "story": {"id": item.story_id, "title": item.story_title} if item.story_id else None,
            "joined_by": item.joined_by, "evidence": item.evidence,
            "joined_by_label": joined_by(item.joined_by, item.evidence),
            "score": item.score, "old": item.old}


def feed_page(store: ConsoleStorage, config: Config, feed_id: int, now: float) -> dict[str, Any]:
    urls = {number: url for url, number in store.console.feed_ids().items()}
    url = urls.get(feed_id)
    if url is None:
        raise NotFound(f"aucun flux n° {feed_id}")
    summary = next((row for row in feeds_page(store, config, now)["feeds"] if row["url"] == url),
                   None)
    if summary is None:  # in the database, no longer in config.yaml
        state = store.feeds.get(url)
        summary = {"id": feed_id, "name": state.name, "url": url, "tags": [],
                   "status": "removed", "status_label": "retiré de config.yaml",
                   "failures": state.failures}
    zone = config.notify.zone
    return {"feed": summary, "items": [_item(item, zone) for item in store.console.feed_items(url)],
            "timezone": config.notify.timezone}


# -- Sujets ----------------------------------------------------------------------------------------

def _story(story: StoryRow, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": story.id, "title": story.title, "first_seen": iso(story.first_seen, zone),
            "last_seen": iso(story.last_seen, zone), "articles": story.articles,
            "outlets": list(story.outlets), "rules": list(story.rules), "muted": story.muted}


def stories_page(store: ConsoleStorage, config: Config, rules: RuleSet, now: float, *, rule: str = "",
                 outlet: str = "", period: str = "7j", words: str = "",
                 order: str = "recent") -> dict[str, Any]:
    try:
        since = now - parse_duration(period, bare_seconds=False)
    except ValueError as error:
        raise Refused(f"periode: {error}") from None
    if order not in SORTS:
        raise Refused(f"tri: '{order}' is none of {', '.join(SORTS)}")
    found = store.console.recent_stories(since=since, rule=rule or None, outlet=outlet or None,
                                         words=words, order=order)
    zone = config.notify.zone
    return {"stories": [{**_story(story, zone), "sparkline": charts.sparkline(
                story.times, min(story.times, default=0), max(story.times, default=0))}
                        for story in found],
            "filters": {"rule": rule, "outlet": outlet, "period": period, "q": words,
                        "order": order},
            "choices": {"rules": [r.name for r in rules.rules], "outlets": store.console.outlets(since),
                        "periods": list(PERIODS), "orders": SORTS},
            "timezone": config.notify.timezone}


def story_page(store: ConsoleStorage, config: Config, story_id: int, now: float) -> dict[str, Any]:
    found = store.console.story(story_id)
    if found is None:
        raise NotFound(f"aucun sujet n° {story_id}")
    story, items = found
    zone = config.notify.zone
    points = [(item.outlet, item.news_time) for item in items]
    return {"story": _story(story, zone), "articles": [_item(item, zone) for item in items],
            "timeline": charts.timeline(points, zone),
            "alerts": [_alert(row, config, now)
                       for row in store.console.alert_rows(now=now, story_id=story.id)],
            "timezone": config.notify.timezone}


# -- Alertes ---------------------------------------------------------------------------------------

def _alert(row: AlertRow, config: Config, now: float) -> dict[str, Any]:
    zone = config.notify.zone
    state = row.state
    error = secrets.scrub(row.last_error, config.notify.all_urls()) if row.last_error else None
    return {"id": row.id, "title": row.title, "kind": row.kind,
            "story": {"id": row.story_id, "title": row.story_title} if row.story_id else None,
            "rules": [rule for rule in row.rule.split(",") if rule], "channel": row.channel,
            "targets": channel_targets(config, row.channel), "state": state,
            "state_label": ALERT_STATES.get(state, state), "attempts": row.attempts,
            "last_error": error, "created": iso(row.created_at, zone),
            "next_attempt": iso(row.next_attempt, zone) if row.status == "pending" else None,
            "delivered": iso(row.delivered_at, zone), "retryable": row.status == "dead"}


def alerts_page(store: ConsoleStorage, config: Config, now: float, *, status: str = "") -> dict[str, Any]:
    if status and status not in ALERT_STATES:
        raise Refused(f"etat: '{status}' is none of {', '.join(ALERT_STATES)}")
    rows = [_alert(row, config, now)
            for row in store.console.alert_rows(now=now, state=status or None)]
    return {"alerts": rows, "counts": store.console.alert_counts(now), "filters": {"status": status},
            "states": ALERT_STATES, "timezone": config.notify.timezone}


def rule_feed_paths(config: Config, rule: str) -> dict[str, str]:
    """Where a reader follows a rule's stories: RSS and JSON Feed, each with the rule's own
    token when the console has a login."""
    login = config.http.auth if config.http else None
    token = f"?jeton={auth.feed_token(login, rule)}" if login else ""
    path = f"/flux/regles/{quote(rule, safe='')}"
    return {"rss": f"{path}.xml{token}", "json": f"{path}.json{token}"}


def rule_feed_stories(store: ConsoleStorage, rules: RuleSet, rule: str, now: float,
                      ) -> tuple[str, list[dict[str, Any]]]:
    """A rule's description and its latest stories, each with its articles (`rulefeeds`)."""
    found = next((r for r in rules.rules if r.name == rule), None)
    if found is None:
        raise NotFound(f"aucune règle '{rule}'")
    return found.description, [
        {"id": row.id, "title": row.title, "first_seen": row.first_seen,
         "last_seen": row.last_seen, "outlets": list(row.outlets),
         "articles": [{"outlet": item.outlet, "title": item.title, "link": item.link}
                      for item in store.console.story_items(row.id)]}
        for row in store.console.recent_stories(since=now - rulefeeds.FEED_DAYS * DAY, rule=rule,
                                                limit=rulefeeds.FEED_STORIES)]


# -- Règles ----------------------------------------------------------------------------------------

def rules_page(store: ConsoleStorage, config: Config, rules: RuleSet, reload: ReloadLog,
               now: float) -> dict[str, Any]:
    day, week = Counter[str](), Counter[str]()
    last: dict[str, float] = {}
    for at, matched in store.console.rule_matches(now - 7 * DAY):
        for rule in matched:
            week[rule] += 1
            day[rule] += at >= now - DAY
            last[rule] = max(last.get(rule, 0.0), at)
    quiet = [rule.name for rule in rules.rules if rule.name not in last]
    last.update(store.console.last_matches(quiet))
    zone = config.notify.zone
    return {
        "rules": [{"name": rule.name, "description": rule.description, "origin": rule.origin,
                   "channels": list(dict.fromkeys(
                       [*rule.channels, *config.notify.priority.get(rule.priority, ())])),
                   "priority": rule.priority,
                   "matches_24h": day[rule.name], "matches_7d": week[rule.name],
                   "last_match": iso(last.get(rule.name), zone),
                   "feeds": rule_feed_paths(config, rule.name)} for rule in rules.rules],
        "reload": {"at": iso(reload.at, zone), "ok": reload.ok, "reason": reload.reason,
                   "problems": reload.problems},
        "timezone": config.notify.timezone}

