"""Article page → `Article` with trafilatura; the feed's summary when the page gives nothing.

Runs in worker processes (trafilatura keeps its lxml parser in a module global and is not safe
across threads). Only bytes go in: trafilatura's own downloader is never used, we fetch pages
with our client. Comments are excluded (trafilatura includes them by default), and the time of
publication comes from the feed, since trafilatura's date has no time of day.
"""

from __future__ import annotations

import logging

from monitor.models import Article, Entry

MIN_TEXT_CHARS = 200  # below this an "extraction" is a teaser, a paywall notice or a cookie wall

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # it logs every page it can't read


def from_feed(entry: Entry, outlet: str, tags: tuple[str, ...] = ()) -> Article:
    """The fallback article: what the feed itself said."""
    return Article(url=entry.link, title=entry.title, summary=entry.summary, text=entry.summary,
                   published=entry.published, outlet=outlet, source="feed",
                   language=entry.language, feed_url=entry.feed_url, tags=tags)


def extract(entry: Entry, html: bytes | None, outlet: str, tags: tuple[str, ...] = ()) -> Article:
    """Main text and metadata of `html`, falling back to the feed's summary."""
    if not html:
        return from_feed(entry, outlet, tags)
    import trafilatura  # heavy import; done once per worker process

    try:
        document = trafilatura.bare_extraction(
            html, url=entry.link, include_comments=False, include_tables=False,
            with_metadata=True, deduplicate=False)
    except Exception:  # trafilatura raises a zoo of lxml errors on broken pages
        return from_feed(entry, outlet, tags)
    text = (getattr(document, "text", None) or "").strip() if document else ""
    if len(text) < max(MIN_TEXT_CHARS, len(entry.summary)):
        return from_feed(entry, outlet, tags)
    canonical = getattr(document, "url", None)
    return Article(
        url=entry.link,
        title=entry.title or (document.title or ""),
        summary=entry.summary or (document.description or ""),
        text=text,
        published=entry.published,
        outlet=outlet,
        source="page",
        canonical_url=canonical if canonical and canonical.startswith("http") else None,
        author=document.author,
        language=getattr(document, "language", None) or entry.language,
        feed_url=entry.feed_url,
        tags=tags,
    )
