"""Matches → alerts: one message per rule and channel, saying what matched, where, and why. Pure.

Bodies are Markdown: Apprise turns them into HTML for e-mail and passes them to chat services that
read Markdown; the console shows them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from monitor.models import Alert, Article, Match
from monitor.text import snippet

PARIS = ZoneInfo("Europe/Paris")
_FIELD_ORDER = ("text", "summary", "title")


def plan(article: Article, matches: Sequence[Match]) -> list[Alert]:
    alerts = []
    for match in matches:
        body = render(article, match)
        alerts.extend(Alert(match.rule, channel, article.title or "(sans titre)", body,
                            article.url) for channel in match.channels)
    return alerts


def excerpt(article: Article, match: Match, width: int = 240) -> str:
    """The passage around the first hit, preferring the article's text, with every hit in it
    marked in bold."""
    fields = {"title": article.title, "summary": article.summary, "text": article.text}
    for name in _FIELD_ORDER:
        spans = [(hit.start, hit.end) for hit in match.hits if hit.field == name]
        if spans:
            return snippet(fields[name], spans, width)
    return snippet(article.summary or article.text, [], width)


def render(article: Article, match: Match) -> str:
    terms = ", ".join(dict.fromkeys(hit.term for hit in match.hits))
    when = ""
    if article.published:
        when = ", " + article.published.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    rule = f"{match.rule} — {match.description}" if match.description else match.rule
    lines = [
        f"**Règle :** {rule}" + (f" ({terms})" if terms else ""),
        f"**Source :** {article.outlet}{when}",
        "",
        "> " + excerpt(article, match),
    ]
    if article.url:
        lines += ["", article.url]
    return "\n".join(lines)
