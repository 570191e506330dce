"""Article page → `Article` with trafilatura; the feed's summary when the page gives nothing.

Runs in worker processes (trafilatura keeps its lxml parser in a module global and is not safe
across threads). Only bytes go in: trafilatura's own downloader is never used, we fetch pages
with our client. Comments are excluded (trafilatura includes them by default), and the time of
publication comes from the feed, since trafilatura's date has no time of day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.models import Article, Entry

if TYPE_CHECKING:
    from lxml.html import HtmlElement

MIN_TEXT_CHARS = 200  # below this an "extraction" is a teaser, a paywall notice or a cookie wall
FALLBACK_BELOW_CHARS = 1000  # a fast extraction shorter than this is tried again with fallbacks

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # it logs every page it can't read


def from_feed(entry: Entry, outlet: str, tags: tuple[str, ...] = ()) -> Article:
    """The fallback article: what the feed itself said."""
    return Article(url=entry.link, title=entry.title, summary=entry.summary, text=entry.summary,
                   published=entry.published, outlet=outlet, source="feed",
                   language=entry.language, feed_url=entry.feed_url, tags=tags)


@dataclass(frozen=True, slots=True)
class _Page:
    text: str
    title: str | None
    description: str | None
    canonical_url: str | None
    author: str | None
    language: str | None


def _extract(html: bytes, url: str | None, language: str | None = None) -> _Page | None:
    """The main text by trafilatura's own extractor alone (`fast`) first, with its fallbacks
    (readability, jusText) only when that finds little: the same quality on our French corpus as
    always running the fallbacks, at twice the speed (bench/extraction.py). `favor_precision`
    (trafilatura: less text, but the article's) suits matching, where teasers of other stories
    around an article only make false alerts; same gold segments right, and faster again.
    Metadata from the page's meta tags and JSON-LD only: trafilatura's full metadata search
    (dates, categories, authors in the body) took a third of the time, for fields the feed
    gives or we do not use.

    The page's language (its `<html lang>`, else the feed's `language`) goes to trafilatura when
    the page's meta tags agree with it. Without one, its jusText fallback judges paragraphs by the
    stop words of every language it knows (154,000 words), built when first needed: 140 ms and
    34 MB more in each worker process, measured on a French page."""
    import trafilatura  # heavy: imported once per worker process, when it starts
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_title, extract_url

    tree = trafilatura.load_html(html)
    if tree is None:
        return None
    page_language = tree.get("lang") or None
    options = dict(url=url, include_comments=False, include_tables=False, with_metadata=False,
                   deduplicate=False, favor_precision=True,
                   target_language=_known_language(tree, page_language or language))
    document = trafilatura.bare_extraction(tree, fast=True, **options)
    if document is None or len(document.text or "") < FALLBACK_BELOW_CHARS:
        document = trafilatura.bare_extraction(tree, **options)
    meta = extract_meta_json(tree, examine_meta(tree))
    return _Page(text=(document.text or "") if document else "",
                 title=meta.title or extract_title(tree), description=meta.description,
                 canonical_url=meta.url or extract_url(tree), author=meta.author,
                 language=page_language)


def _known_language(tree: HtmlElement, language: str | None) -> str | None:
    """`language` as trafilatura takes it (ISO 639-1), when it has stop words for it and the
    page's meta tags do not say otherwise (trafilatura would then refuse the page). Not with
    py3langid installed: trafilatura would then drop pages whose text it guesses is in another."""
    from trafilatura.settings import JUSTEXT_LANGUAGES
    from trafilatura.utils import LANGID_FLAG, check_html_lang

    if LANGID_FLAG:
        return None
    code = (language or "").strip().lower()[:2]
    return code if code in JUSTEXT_LANGUAGES and check_html_lang(tree, code) else None


def extract(entry: Entry, html: bytes | None, outlet: str, tags: tuple[str, ...] = ()) -> Article:
    """Main text and metadata of `html`, falling back to the feed's summary."""
    if not html:
        return from_feed(entry, outlet, tags)
    try:
        page = _extract(html, entry.link, entry.language)
    except Exception:  # trafilatura raises a zoo of lxml errors on broken pages
        return from_feed(entry, outlet, tags)
    text = page.text.strip() if page else ""
    if not page or len(text) < max(MIN_TEXT_CHARS, len(entry.summary)):
        return from_feed(entry, outlet, tags)
    canonical = page.canonical_url
    return Article(
        url=entry.link,
        title=entry.title or (page.title or ""),
        summary=entry.summary or (page.description or ""),
        text=text,
        published=entry.published,
        outlet=outlet,
        source="page",
        canonical_url=canonical if canonical and canonical.startswith("http") else None,
        author=page.author,
        language=page.language or entry.language,
        feed_url=entry.feed_url,
        tags=tags,
    )
