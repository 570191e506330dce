"""OPML, the subscription lists every feed reader imports and exports (Miniflux, FreshRSS,
Feedly, Inoreader…): folders of outlines, each feed an outline with an `xmlUrl`.

A feed's folders become its tags, and its tags become folders on the way out: a feed with two
tags is listed in both folders, and reading the list back gives it both again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import quoteattr

from lxml import etree


class OpmlError(ValueError):
    """Not an OPML document we can read; the message says why."""


@dataclass
class OutlineFeed:
    name: str
    url: str
    tags: list[str] = field(default_factory=list)


def parse(data: bytes) -> list[OutlineFeed]:
    """The feeds of an OPML document, in order, each once (a feed listed in several folders
    gets all their names as tags)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"not well-formed XML: {error}") from None
    body = root.find("body") if root.tag == "opml" else None
    if body is None:
        raise OpmlError("not an OPML document (no <opml> with a <body>)")
    found: dict[str, OutlineFeed] = {}
    _walk(body, [], found)
    return list(found.values())


def _walk(parent: etree._Element, folders: list[str], found: dict[str, OutlineFeed]) -> None:
    for outline in parent.iterchildren("outline"):
        title = (outline.get("title") or outline.get("text") or "").strip()
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            feed = found.setdefault(url, OutlineFeed(title or url, url))
            feed.tags.extend(tag for tag in folders if tag not in feed.tags)
        elif title:
            _walk(outline, [*folders, title], found)
        else:
            _walk(outline, folders, found)


def render(feeds: Sequence[OutlineFeed], title: str = "monitor", now: datetime | None = None
           ) -> str:
    """OPML 2.0: untagged feeds at the top, then a folder per tag."""
    created = format_datetime(now or datetime.now(UTC), usegmt=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{_text(title)}</title>", f"    <dateCreated>{created}</dateCreated>",
             "  </head>", "  <body>"]
    lines += [f"    {_outline(feed)}" for feed in feeds if not feed.tags]
    for tag in dict.fromkeys(tag for feed in feeds for tag in feed.tags):
        lines.append(f"    <outline text={quoteattr(tag)} title={quoteattr(tag)}>")
        lines += [f"      {_outline(feed)}" for feed in feeds if tag in feed.tags]
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _outline(feed: OutlineFeed) -> str:
    return (f'<outline type="rss" text={quoteattr(feed.name)} title={quoteattr(feed.name)} '
            f"xmlUrl={quoteattr(feed.url)}/>")


def _text(value: str) -> str:
    return quoteattr(value)[1:-1]
