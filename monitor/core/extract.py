"""Article page → `Article` with trafilatura; the feed's summary when the page gives nothing.

Runs in worker processes (trafilatura keeps its lxml parser in a module global and is not safe
across threads). Only bytes go in: trafilatura's own downloader is never used, we fetch pages
with our client. Comments are excluded (trafilatura includes them by default), and the time of
publication comes from the feed, since trafilatura's date has no time of day.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict, cast

from monitor.core.models import Article, Entry

if TYPE_CHECKING:
    from lxml.html import HtmlElement
    from trafilatura.settings import Document

MIN_TEXT_CHARS = 200  # below this an "extraction" is a teaser, a paywall notice or a cookie wall
FALLBACK_BELOW_CHARS = 1000  # a fast extraction shorter than this is tried again with fallbacks

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # it logs every page it can't read


def from_feed(entry: Entry, outlet: str, tags: tuple[str, ...] = ()) -> Article:
    """The fallback article: what the feed itself said."""
    return Article(url=entry.link, title=entry.title, summary=entry.summary, text=entry.summary,
                   published=entry.published, outlet=outlet, source="feed",
                   language=entry.language, feed_url=entry.feed_url, tags=tags)


class _ExtractionOptions(TypedDict):
    """The keyword arguments `_extract` gives `trafilatura.bare_extraction`."""

    url: str | None
    include_comments: bool
    include_tables: bool
    with_metadata: bool
    deduplicate: bool
    favor_precision: bool
    target_language: str | None


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
    meta = extract_meta_json(tree, examine_meta(tree))
    title = meta.title or extract_title(tree)
    _prune_furniture(tree)
    options: _ExtractionOptions = dict(
        url=url, include_comments=False, include_tables=False, with_metadata=False,
        deduplicate=False, favor_precision=True,
        target_language=_known_language(tree, page_language or language))
    # a Document or None: `bare_extraction` is annotated as also returning a dict, which it does
    # only when given the deprecated `as_dict=True`
    document = cast("Document | None", trafilatura.bare_extraction(tree, fast=True, **options))
    if document is None or len(document.text or "") < FALLBACK_BELOW_CHARS:
        document = cast("Document | None", trafilatura.bare_extraction(tree, **options))
    return _Page(text=_drop_furniture_lines(document.text or "") if document else "",
                 title=title, description=meta.description,
                 canonical_url=meta.url or extract_url(tree), author=meta.author,
                 language=page_language)


# Page furniture trafilatura keeps: the box describing the source outlet of a translated article
# (Courrier international: "Source de l'article", with what the outlet thinks of Trump), captions
# and photo credits, screen-reader-only labels ("Passer la publicité"), "Lire aussi" links and
# boxes, paywall and newsletter prompts, publication-date lines. By class or id, before
# trafilatura reads the page; never an element holding the <h1> or a quarter of the page's text,
# since the same words also name page wrappers ("fig-article-has-no-source", a "legend" body).
_FURNITURE_CLASS = re.compile(
    r"(?:^|[\s_-])source(?:[\s_-]|$)|caption|legend|credit|sr-only|sronly|screen-reader|a11y"
    r"|visually-?hidden|lire|read-?more|body-link|capsule|popin|playlist|publisheddate|info-publi"
    r"|fecha|date-?publi|(?:^|\s)(?:paywall|others|framed|catcher)(?:\s|$)")
_CLASS_WORDS = ("source", "caption", "legend", "credit", "sr-only", "sronly", "screen-reader", "a11y",
                "hidden", "lire", "read", "body-link", "capsule", "popin", "playlist", "publisheddate",
                "info-publi", "fecha", "date", "paywall", "others", "framed", "catcher")  # cheap pre-test
_FURNITURE_ID = re.compile(r"(?:^|[\s_-])source(?:[\s_-]|$)|^paywall$")
_NEVER_PRUNED = {"html", "head", "body", "main", "article"}
_MAX_FURNITURE_SHARE = 0.25


def _is_furniture(element: HtmlElement) -> bool:
    if element.tag == "figcaption" or element.get("data-capsule") is not None:
        return True
    names = (element.get("class") or "").lower()
    if names and any(word in names for word in _CLASS_WORDS) and _FURNITURE_CLASS.search(names):
        return True
    ident = (element.get("id") or "").lower()
    return bool(ident) and _FURNITURE_ID.search(ident) is not None


def _prune_furniture(tree: HtmlElement) -> None:
    from trafilatura.xml import delete_element

    found = [element for element in tree.xpath("//figcaption | //*[@class or @id or @data-capsule]")
             if element.tag not in _NEVER_PRUNED and _is_furniture(element)]
    if not found:
        return
    limit = _MAX_FURNITURE_SHARE * len(tree.text_content())
    for element in found:
        if (element.getparent() is None or element.find(".//h1") is not None
                or len(element.text_content()) > limit):
            continue
        delete_element(element)  # its tail text (the sentence after an inline link) stays


# furniture lines in plain <p>: dropped when a whole line of at most 160 characters
_FURNITURE_LINE = re.compile(r"""^(?:
    (?:[àa]\s+)?lire\s+(?:aussi|[ée]galement)\b.* | voir\s+aussi\b.*
  | (?:cr[ée]dits?|copyright)\s*(?:photos?)?\s*:.* | photos?\s*(?:\(cc\))?\s*:.* | image\s+illus\S*\s*:.*
  | il\s+vous\s+reste\s+\d+(?:[.,]\d+)?\s*%.* | .*la\s+suite\s+est\s+r[ée]serv[ée]e\s+aux\s+abonn[ée]s.*
  | cet\s+article\s+est\s+paru\s+dans\s+notre\s+newsletter.* | (?:inscrivez|abonnez)-vous\b.*
  | passer\s+la\s+publicit[ée] | voir\s+les\s+contributions | \d+\s+commentaires? | commenter
  | back\s+to\s+top | temps\s+de\s+lecture\b.*
  | (?:article\s+)?(?:publi[ée]e?|mis\s+[àa]\s+jour|modifi[ée]e?|cr[ée]{2}e?)\s*(?:le\b|:).{0,40}
  | par(?:\s+[A-ZÉÈÀÂÎÔ][\w’'.-]*){1,3}
)$""", re.X | re.I)


def _drop_furniture_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _is_furniture_line(line.strip()))


def _is_furniture_line(line: str) -> bool:
    if not line or len(line) > 160 or not _FURNITURE_LINE.match(line):
        return False
    words = line.split()  # "Par Jacques Munier", not "Par ailleurs": every word capitalised
    return words[0].lower() != "par" or all(word[:1].isupper() for word in words[1:])


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


def article_from_html(html: bytes, where: str) -> Article:
    """The page's title and main text, as the daemon would extract them."""
    import trafilatura

    url = where if where.startswith(("http://", "https://")) else None
    # annotated as taking a tree or a str, it takes bytes too (it loads them with load_html)
    meta = trafilatura.extract_metadata(html)  # type: ignore[arg-type]
    title = (meta.title if meta else None) or ""
    article = extract(Entry("", None, url, title, "", None), html, where)
    if article.source == "feed":  # nothing extracted: fall back to all of the page's text
        text = trafilatura.html2txt(html) or ""
        return Article(url, title, "", text, None, where, "page")
    return article
