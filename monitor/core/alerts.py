"""Matches → alerts: one per channel, listing every rule that matched, carrying what a message
needs to say what matched, where and why; later articles of a story become follow-ups. Pure.
Rendering waits for delivery, in the format of the channel (`templates`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from monitor.core.models import Alert, AlertPayload, Article, Match, Priority, RulePayload
from monitor.core.text import snippet

PARIS = ZoneInfo("Europe/Paris")
_FIELD_ORDER = ("text", "summary", "title")
_MARK = "\0"
_PRIORITIES = ("low", "normal", "high")


def for_matches(article: Article, matches: Sequence[Match],
                by_priority: Mapping[Priority, Sequence[str]] | None = None,
                zone: ZoneInfo = PARIS) -> list[Alert]:
    """One alert per channel, naming every rule routed to that channel that matched (a channel
    gets only its own rules); `by_priority` adds channels for a priority (e.g. high alerts also
    to Telegram)."""
    by_channel: dict[str, list[Match]] = {}
    for match in matches:
        for channel in dict.fromkeys((*match.channels, *(by_priority or {}).get(match.priority, ()))):
            by_channel.setdefault(channel, []).append(match)
    alerts = []
    for channel, routed in by_channel.items():
        routed.sort(key=lambda m: -_PRIORITIES.index(m.priority))  # the first one leads
        body = payload(article, routed, zone)
        alerts.append(Alert(body["rule"], channel, body["title"], body, routed[0].priority))
    return alerts


def payload_of(title: str, *, url: str | None, outlet: str, published: str, rule: str,
               excerpt: list[tuple[str, bool]], priority: str = "normal", description: str = "",
               rules: Sequence[RulePayload] = (), template: str | None = None) -> AlertPayload:
    """The one place a payload is made: headlines, follow-ups and operational alerts alike, so
    every template finds every key."""
    data = AlertPayload(
        title=title, url=url, outlet=outlet, published=published, rule=rule,
        description=description, priority=priority,
        terms=list(dict.fromkeys(term for r in rules for term in r["terms"])), rules=list(rules),
        excerpt=excerpt)
    if template:
        data["template"] = template
    return data


def payload(article: Article, matches: Sequence[Match], zone: ZoneInfo = PARIS) -> AlertPayload:
    """What a message says: the article, and each rule with its terms (`rules`); `rule`,
    `description` and `terms` put them together for templates written for one rule."""
    lead = matches[0]
    rules = [RulePayload(rule=m.rule, description=m.description, priority=m.priority,
                         terms=list(dict.fromkeys(hit.term for hit in m.hits))) for m in matches]
    return payload_of(
        article.title or "(sans titre)", url=article.url, outlet=article.outlet,
        published=_when(article, zone), rule=", ".join(r["rule"] for r in rules),
        description=" ; ".join(r["description"] for r in rules if r["description"]),
        priority=lead.priority, rules=rules, template=lead.template,
        excerpt=excerpt(article, Match(lead.rule, tuple(h for m in matches for h in m.hits),
                                       lead.channels)))


def _when(article: Article, zone: ZoneInfo) -> str:
    """The article's date in the channel's zone, or "" when unknown (or stored before dates
    were checked, too far off to be shown in a zone)."""
    try:
        return article.published.astimezone(zone).strftime("%d/%m/%Y %H:%M") \
            if article.published else ""
    except (OverflowError, ValueError):
        return ""


def excerpt(article: Article, match: Match, width: int = 240) -> list[tuple[str, bool]]:
    """The passage around the first matched word, preferring the article's text, as (text,
    is_hit) segments so each format can mark the hits its own way. Every occurrence of a
    matched word is marked, wherever the rule saw it first (often the headline); the headline
    a page's text starts with is left out (the alert's title says it)."""
    fields = {"title": article.title, "summary": article.summary,
              "text": _without_headline(article.text, article.title)}
    seen = {"title": article.title, "summary": article.summary, "text": article.text}
    words = {seen[hit.field][hit.start:hit.end] for hit in match.hits if hit.field in seen}
    marked = None
    for name in _FIELD_ORDER:
        spans = _occurrences(fields[name], words)
        if spans:
            marked = snippet(fields[name], spans, width, mark=_MARK)
            break
    if marked is None:
        marked = snippet(article.summary or fields["text"], [], width, mark=_MARK)
    return [(part, index % 2 == 1) for index, part in enumerate(marked.split(_MARK)) if part]


def _without_headline(text: str, title: str) -> str:
    """`text` without the headline it starts with, when it does."""
    headline = title.strip()
    if not headline or not text.startswith(headline):
        return text
    rest = text[len(headline):]
    return rest.lstrip() if rest[:1].isspace() else text


def _occurrences(text: str, words: set[str]) -> list[tuple[int, int]]:
    """Every place one of `words` stands as a whole word in `text` (any case), in order."""
    found = set()
    for word in words - {""}:
        pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
        found |= {(m.start(), m.end()) for m in pattern.finditer(text)}
    ordered: list[tuple[int, int]] = []
    for start, end in sorted(found):  # overlapping words: the first one wins
        if not ordered or start >= ordered[-1][1]:
            ordered.append((start, end))
    return ordered


def followups(article: Article, alerted: Mapping[str, tuple[str, str]], now: float,
              mode: str, new_outlet: bool, zone: ZoneInfo = PARIS,
              digest_every: float = 3600.0) -> list[Alert]:
    """A later article of a story that already alerted: no new headline, a quiet follow-up on
    each channel the story alerted on (`alerted`: channel → (rules, priority)); in a digest
    within the hour (`digest`), at once (`message`), or not at all (`off`)."""
    if mode == "off" or not alerted:
        return []
    hold = followup_hold(now, mode, digest_every)
    out = []
    for channel, (rule, priority) in alerted.items():
        title, payload = followup_payload(article.title, article.url, article.outlet,
                                          _when(article, zone), rule, priority, new_outlet)
        out.append(Alert(rule, channel, title, payload, priority, kind="followup",
                         outlet=article.outlet, hold_until=hold))
    return out


def followup_hold(now: float, mode: str, digest_every: float = 3600.0) -> float | None:
    """Until when a follow-up waits: the next digest, or not at all (`message`)."""
    return (now // digest_every + 1) * digest_every if mode == "digest" else None


def followup_payload(title: str, url: str | None, outlet: str, published: str, rule: str,
                     priority: str, new_outlet: bool) -> tuple[str, AlertPayload]:
    """The title and payload of a follow-up: who else reported the story, or who went on."""
    if new_outlet:
        heading = f"Aussi repris par {outlet} : {title}"
        line = f"{outlet} reprend l’histoire : {title}"
    else:
        heading = f"Suite ({outlet}) : {title}"
        line = f"{outlet} poursuit l’histoire : {title}"
    return heading, payload_of(heading, url=url, outlet=outlet, published=published, rule=rule,
                               priority=priority, excerpt=[(line, False)])


def demoted(payload: AlertPayload) -> tuple[str, AlertPayload]:
    """A headline whose story was merged, before it was sent, into a story that already has
    its headline on that channel: the follow-up it becomes."""
    return followup_payload(payload["title"], payload.get("url"), payload.get("outlet", ""),
                            payload.get("published", ""), payload.get("rule", ""),
                            payload.get("priority", "normal"), new_outlet=True)
