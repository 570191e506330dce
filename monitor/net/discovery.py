"""Finding a site's feed from one of its pages: what the page links as its RSS or Atom
alternate, then the addresses where sites usually keep one."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import lxml.html

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/feed+json", "application/xml", "text/xml")
# Where sites usually keep their feed (WordPress, Arc — Libération, Le Figaro —, SPIP, Ghost…).
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml",
                "/feeds/all.rss", "/arc/outboundfeeds/rss/", "/spip.php?page=backend")


def linked_feeds(html: bytes, page_url: str) -> list[str]:
    """The feeds a page declares (`<link rel="alternate" type="application/rss+xml">`), in its
    order, RSS and Atom before the rest."""
    try:
        document = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    found = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            found.append((FEED_TYPES.index(kind), urljoin(page_url, href)))
    return list(dict.fromkeys(url for _, url in sorted(found, key=lambda pair: pair[0])))


def common_feeds(page_url: str) -> list[str]:
    """The usual feed addresses on the page's site."""
    parts = urlsplit(page_url)
    return [f"{parts.scheme}://{parts.netloc}{path}" for path in COMMON_PATHS]
