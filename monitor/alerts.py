"""Matches → alerts: one per rule and channel, carrying what a message needs to say what matched,
where and why. Pure. Rendering waits for delivery, in the format of the channel (`templates`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from monitor.models import Alert, Article, Match
from monitor.text import snippet

PARIS = ZoneInfo("Europe/Paris")
_FIELD_ORDER = ("text", "summary", "title")
_MARK = "\0"


def plan(article: Article, matches: Sequence[Match],
         by_priority: Mapping[str, Sequence[str]] | None = None,
         zone: ZoneInfo = PARIS) -> list[Alert]:
    """One alert per match and channel; `by_priority` adds channels for a priority (e.g. high
    alerts also to Telegram)."""
    alerts = []
    for match in matches:
        channels = dict.fromkeys((*match.channels, *(by_priority or {}).get(match.priority, ())))
        body = payload(article, match, zone)
        alerts.extend(Alert(match.rule, channel, body["title"], body, match.priority)
                      for channel in channels)
    return alerts


def payload(article: Article, match: Match, zone: ZoneInfo = PARIS) -> dict[str, Any]:
    published = article.published.astimezone(zone).strftime("%d/%m/%Y %H:%M") \
        if article.published else ""
    data = {
        "title": article.title or "(sans titre)",
        "url": article.url,
        "outlet": article.outlet,
        "published": published,
        "rule": match.rule,
        "description": match.description,
        "priority": match.priority,
        "terms": list(dict.fromkeys(hit.term for hit in match.hits)),
        "excerpt": excerpt(article, match),
    }
    if match.template:
        data["template"] = match.template
    return data


def excerpt(article: Article, match: Match, width: int = 240) -> list[tuple[str, bool]]:
    """The passage around the first hit, preferring the article's text, as (text, is_hit)
    segments so each format can mark the hits its own way."""
    fields = {"title": article.title, "summary": article.summary, "text": article.text}
    marked = None
    for name in _FIELD_ORDER:
        spans = [(hit.start, hit.end) for hit in match.hits if hit.field == name]
        if spans:
            marked = snippet(fields[name], spans, width, mark=_MARK)
            break
    if marked is None:
        marked = snippet(article.summary or article.text, [], width, mark=_MARK)
    return [(part, index % 2 == 1) for index, part in enumerate(marked.split(_MARK)) if part]


def followups(article: Article, raised: Sequence[tuple[str, str, str]], now: float,
              mode: str, zone: ZoneInfo = PARIS, digest_every: float = 3600.0) -> list[Alert]:
    """When a new outlet joins a story that already alerted: one quiet "also reported by" per
    rule and channel that alerted; in a digest within the hour (`digest`), at once (`message`),
    or not at all (`off`)."""
    if mode == "off" or not raised:
        return []
    hold = (now // digest_every + 1) * digest_every if mode == "digest" else None
    published = article.published.astimezone(zone).strftime("%d/%m/%Y %H:%M") \
        if article.published else ""
    out = []
    for rule, channel, priority in dict.fromkeys(raised):
        title = f"Aussi repris par {article.outlet} : {article.title}"
        payload = {"title": title, "url": article.url, "outlet": article.outlet,
                   "published": published, "rule": rule, "description": "", "priority": priority,
                   "terms": [], "excerpt": [(f"{article.outlet} reprend l’histoire : "
                                             f"{article.title}", False)]}
        out.append(Alert(rule, channel, title, payload, priority, kind="followup",
                         outlet=article.outlet, hold_until=hold))
    return out
