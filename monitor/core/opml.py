"""OPML, the subscription lists every feed reader imports and exports (Miniflux, FreshRSS,
Feedly, Inoreader…): folders of outlines, each feed an outline with an `xmlUrl`.

A feed's folders (nested ones too) become its tags, and its first tag becomes its folder on the
way out, all of them in the outline's `category` (OPML 2.0): each feed is listed once, and
reading the list back gives it every tag again.
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
    name: str  # "" when the outline has no title: the feed's own is to be used
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
            feed = found.setdefault(url, OutlineFeed(title, url))
            categories = [part.strip().strip("/") for part in
                          (outline.get("category") or "").split(",")]
            feed.tags.extend(tag for tag in [*folders, *categories]
                             if tag and tag not in feed.tags)
        elif title:
            _walk(outline, [*folders, title], found)
        else:
            _walk(outline, folders, found)


def render(feeds: Sequence[OutlineFeed], title: str = "monitor", now: datetime | None = None
           ) -> str:
    """OPML 2.0: untagged feeds at the top, then a folder per first tag."""
    created = format_datetime(now or datetime.now(UTC), usegmt=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{_text(title)}</title>", f"    <dateCreated>{created}</dateCreated>",
             "  </head>", "  <body>"]
    lines += [f"    {_outline(feed)}" for feed in feeds if not feed.tags]
    for tag in dict.fromkeys(feed.tags[0] for feed in feeds if feed.tags):
        lines.append(f"    <outline text={quoteattr(tag)} title={quoteattr(tag)}>")
        lines += [f"      {_outline(feed)}" for feed in feeds if feed.tags[:1] == [tag]]
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _outline(feed: OutlineFeed) -> str:
    category = (f" category={quoteattr(','.join(f'/{tag}' for tag in feed.tags))}"
                if len(feed.tags) > 1 else "")
    return (f'<outline type="rss" text={quoteattr(feed.name)} title={quoteattr(feed.name)} '
            f"xmlUrl={quoteattr(feed.url)}{category}/>")


def _text(value: str) -> str:
    return quoteattr(value)[1:-1]
