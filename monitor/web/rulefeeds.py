"""A rule's stories as a feed an analyst's reader follows: RSS 2.0 (`/flux/regles/<rule>.xml`)
and JSON Feed 1.1 (`.json`), one entry per story with its outlets and articles, dated by its
latest article so a reader sees it again as it grows. Pure: data in, text out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

FEED_STORIES = 50  # the latest stories of the rule, by their latest article
FEED_DAYS = 30


def _html(story: dict[str, Any], console: str) -> str:
    """An entry's body: the outlets, each article linked, and the story in the console."""
    items = "".join(
        f'<li>{escape(a["outlet"] or "")} : <a href="{escape(a["link"] or "")}">'
        f'{escape(a["title"])}</a></li>' for a in story["articles"])
    return (f"<p>{len(story['outlets'])} source(s) : {escape(', '.join(story['outlets']))}</p>"
            f"<ul>{items}</ul><p><a href=\"{escape(console)}\">Le sujet dans la console</a></p>")


def _date(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def rss(rule: str, description: str, stories: list[dict[str, Any]], base: str) -> str:
    entries = []
    for story in stories:
        console = f"{base}/sujets/{story['id']}"
        link = next((a["link"] for a in story["articles"] if a["link"]), console)
        entries.append(
            f"<item><title>{xml_escape(story['title'])}</title>"
            f"<link>{xml_escape(link)}</link>"
            f'<guid isPermaLink="false">{xml_escape(console)}</guid>'
            f"<pubDate>{format_datetime(_date(story['last_seen']))}</pubDate>"
            f"<description>{xml_escape(_html(story, console))}</description></item>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{xml_escape(f'monitor : {rule}')}</title>"
            f"<link>{xml_escape(f'{base}/sujets?regle={rule}')}</link>"
            f"<description>{xml_escape(description or f'Les sujets de la règle {rule}')}"
            f"</description>{''.join(entries)}</channel></rss>\n")


def json_feed(rule: str, description: str, stories: list[dict[str, Any]], base: str,
              address: str) -> str:
    items = []
    for story in stories:
        console = f"{base}/sujets/{story['id']}"
        items.append({
            "id": console, "title": story["title"],
            "url": next((a["link"] for a in story["articles"] if a["link"]), console),
            "content_html": _html(story, console),
            "date_published": _date(story["first_seen"]).isoformat(),
            "date_modified": _date(story["last_seen"]).isoformat(),
            "tags": story["outlets"]})
    return json.dumps({"version": "https://jsonfeed.org/version/1.1",
                       "title": f"monitor : {rule}", "home_page_url": f"{base}/sujets?regle={rule}",
                       "feed_url": address,
                       "description": description or f"Les sujets de la règle {rule}",
                       "items": items}, ensure_ascii=False, indent=1)
