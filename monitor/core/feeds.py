"""Feed bytes → entries, with feedparser, and URL canonicalisation. Pure: no network, no clock.

feedparser is given bytes (wrapped in a stream, so it can never read a path or URL) and the
response's headers, so it detects the encoding itself; relative links are resolved against the
feed's address (or the document's xml:base). A feed is broken only when nothing usable came out
of it: feedparser's `bozo` flag is also raised for harmless things such as a charset override.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from monitor.core import seen_items
from monitor.core.models import Entry, ParsedFeed

_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "xtor", "xtref", "_ga", "_gl", "ncid", "ocid", "cmpid", "ito",
})
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_")
_SPACES = re.compile(r"\s+")


def canonical_url(url: str) -> str:
    """The address without tracking junk: utm_*/xtor/fbclid… params, fragment, host case, port.
    An address too broken to take apart is returned as it is."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # "Invalid IPv6 URL", a port that is no number…
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    kept = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key.lower() not in _TRACKING_PARAMS
            and not key.lower().startswith(_TRACKING_PREFIXES)]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(sorted(kept)), ""))


_HOST_VARIANTS = ("www.", "m.", "mobile.", "amp.")
_AMP_PATH = re.compile(r"(/amp)?/?$|\.amp(?=\.html?$)|^/amp(?=/)")


def identity(url: str) -> str:
    """What makes two addresses the same article: the canonical URL without scheme, without
    www/m/mobile/amp host prefixes and AMP path or query variants (`/amp`, `.amp.html`,
    `?amp=1`, `outputType=amp`)."""
    canonical = canonical_url(url)
    try:
        parts = urlsplit(canonical)
    except ValueError:
        return canonical.split("://", 1)[-1]
    host = parts.netloc
    for prefix in _HOST_VARIANTS:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and pair.lower() not in ("amp", "amp=1", "amp=true", "outputtype=amp"))
    return host + path + (f"?{query}" if query else "")


def parse(body: bytes, url: str, headers: Mapping[str, str] | None = None,
          feed_url: str | None = None, known: bytes = b"",
          furniture: frozenset[str] = frozenset()) -> ParsedFeed:
    """Parse a feed document fetched from `url` (it resolves relative links; `headers` may carry
    the charset). Entries are attributed to `feed_url`, the configured address, if given.
    The items whose digests are `known` (the `digests` of the feed's last clean parse) are
    not parsed again (seen_items.py), unless the document is one to parse whole; the
    `furniture` that parse found still holds for the items parsed now (`without_furniture`)."""
    items = seen_items.split(body, headers) if len(body) <= MAX_SPLIT else None
    if items is None or len(items.spans) > MAX_ENTRIES:
        return _furnished(_parse(body, url, headers, feed_url))
    if known:
        shorter, cut = seen_items.without(body, items, known)
        if cut:
            parsed = _parse(shorter, url, headers, feed_url)
            if parsed.warning is None and parsed.error is None:
                return _furnished(replace(parsed, digests=items.digests, known=cut), furniture)
    parsed = _furnished(_parse(body, url, headers, feed_url))
    return replace(parsed, digests=items.digests) if parsed.warning is None else parsed


def without_furniture(entries: Sequence[Entry], furniture: frozenset[str] = frozenset()
                      ) -> tuple[tuple[Entry, ...], frozenset[str]]:
    """The entries without the summaries that are a feed's furniture, and those summaries'
    digests. Furniture is a summary that items of different titles share word for word and
    that speaks of none of them (« Chaque jour, retrouvez le journal de 19h… », a radio show's
    blurb): left in, it made every item of the show one story (2025-05-18 capture). A shared
    summary whose words are those of its items' titles is the story they all tell (BFMTV put
    one lead under its 13 items on a resignation, 2025-10-06 capture) and stays. `furniture`:
    digests found earlier in the same feed, for items parsed without their neighbours."""
    titles: dict[str, set[str]] = {}
    summaries: dict[str, str] = {}
    for entry in entries:
        if entry.summary:
            digest = _digest(entry.summary)
            titles.setdefault(digest, set()).add(entry.title)
            summaries[digest] = entry.summary
    found = furniture | {digest for digest, seen in titles.items()
                         if len(seen) > 1 and not _about(summaries[digest], seen)}
    if not found:
        return tuple(entries), found
    return tuple(replace(entry, summary="") if entry.summary and _digest(entry.summary) in found
                 else entry for entry in entries), found


def _about(summary: str, titles: set[str]) -> bool:
    """Whether a summary speaks of the items whose titles these are: it shares a telling word
    (`terms`) with half of them or more."""
    from monitor.core import terms

    said = terms.vector(summary, "").keys()
    return 2 * sum(1 for title in titles if said & terms.vector(title, "").keys()) >= len(titles)


def _digest(summary: str) -> str:
    return hashlib.blake2b(" ".join(summary.split()).encode(), digest_size=8).hexdigest()


def _furnished(parsed: ParsedFeed, furniture: frozenset[str] = frozenset()) -> ParsedFeed:
    entries, found = without_furniture(parsed.entries, furniture)
    return replace(parsed, entries=entries, furniture=found)


MAX_SPLIT = 4 << 20  # bytes: a bigger document is parsed whole, as it comes


def _parse(body: bytes, url: str, headers: Mapping[str, str] | None,
           feed_url: str | None) -> ParsedFeed:
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.pop("content-location", None)  # given a base, feedparser joins every
    # element's URI to it (a fifth of its time); links are joined in _entry instead
    response_headers.setdefault("content-type", "application/xml")
    try:
        # Only text is kept from titles and summaries (see _plain): feedparser's HTML sanitizer
        # and relative-URI rewriting would cost a third of its time for nothing.
        result = _feedparser().parse(io.BytesIO(body), response_headers=response_headers,
                                  sanitize_html=False, resolve_relative_uris=False)
    except Exception as error:  # feedparser itself trips on some byte sequences (fuzzing found
        # UnicodeDecodeError and "embedded null character" escaping its encoding detection)
        return ParsedFeed("", (), error=f"unreadable feed: {_short(f'{type(error).__name__}: {error}')}")
    reason = str(result.get("bozo_exception", "")) or None if result.get("bozo") else None
    language = (result.feed.get("language") or "").strip() or None
    notes: list[str] = []
    if len(result.entries) > MAX_ENTRIES:
        notes.append(f"{MAX_ENTRIES} of its {len(result.entries)} entries read (the first)")
    entries = tuple(entry for entry in (_entry(raw, url, feed_url or url, language, notes)
                                        for raw in result.entries[:MAX_ENTRIES]) if entry)
    title = _plain(result.feed.get("title", ""))
    if not entries and (not result.get("version") or not body.strip()):
        page = _page_instead(body)
        if page:
            return ParsedFeed(title, (), error=page)
        what = "empty document" if not body.strip() else (reason or "not an RSS or Atom feed")
        return ParsedFeed(title, (), error=f"unreadable feed: {_short(what)}")
    said = [_short(reason)] if reason else []
    said += notes[:3] + ([f"{len(notes) - 3} more such note(s)"] if len(notes) > 3 else [])
    return ParsedFeed(title, entries, warning="; ".join(said) or None)


def _page_instead(body: bytes) -> str | None:
    """What a web page served instead of a feed is, in words a user can act on (the parser's
    own message about it is a line and column of XML)."""
    head = body[:4096].lstrip().lower()
    if not head.startswith((b"<!doctype html", b"<html")) and b"<html" not in head[:512]:
        return None
    start = body[:100_000].lower()
    if any(mark in start for mark in (b"challenge-platform", b"cf-chl", b"cf_chl",
                                      b"<title>just a moment")):
        return ("a Cloudflare challenge page, not a feed: the site turns robots away "
                "(ask it to allow this one, or find another address for the feed)")
    return ("a web page, not a feed: is this the site's address rather than its feed's? "
            "(`monitor feeds add` finds the feed a page links to)")


def _entry(raw: Mapping[str, Any], base: str, feed_url: str, language: str | None,
           notes: list[str]) -> Entry | None:
    link = _join(base, raw["link"]) if raw.get("link") else None
    guid = (raw.get("id") or "").strip() or None
    title = _plain(raw.get("title", ""))
    if not (link or guid or title):
        return None
    summary = _plain(raw.get("summary", ""))
    content = " ".join(_plain(part.get("value", "")) for part in raw.get("content", []) or [])
    # `in` first: asking feedparser for a missing updated_parsed hands back published_parsed
    # with a DeprecationWarning (its issue 310)
    when: time.struct_time | None = raw.get("published_parsed") or (
        raw.get("updated_parsed") if "updated_parsed" in raw else None)
    written = (raw.get("published") or raw.get("updated") or "").strip()
    if when is None and written:
        notes.append(f"item '{_short(title, 60)}': date '{_short(written, 40)}' unreadable, "
                     "taken as unknown")
    link = canonical_url(link) if link else None
    return Entry(
        feed_url=feed_url,
        guid=guid,
        link=link if link and link.startswith(("http://", "https://")) else None,
        title=title,
        summary=summary if len(summary) >= len(content) else content,
        published=usable_date(when, title, notes),
        language=language,
    )


def _join(base: str, link: str) -> str:
    try:
        return urljoin(base, link.strip())
    except ValueError:  # "Invalid IPv6 URL" and the like: kept as it is (canonical_url copes)
        return link


def _plain(html: str) -> str:
    """Text of an HTML fragment, whitespace collapsed (feed titles and summaries carry markup;
    what scripts and style sheets hold is not text)."""
    if not html:
        return ""
    if "<" in html:
        try:
            import lxml.html  # here: the daemon's process never reads a feed's HTML

            root = lxml.html.fragment_fromstring(html, create_parent="div")
            for element in root.iter("script", "style"):
                element.text = None
            html = root.text_content()
        except (ValueError, lxml.etree.ParserError):
            html = unescape(re.sub(r"<[^>]*>", " ", html))
    elif "&" in html:
        html = unescape(html)
    return _SPACES.sub(" ", html).strip()


_EXPAT_PLACE = re.compile(r"^<unknown>:(\d+):\d+: ")  # the XML parser's "where", for people


def _short(text: str, limit: int = 200) -> str:
    text = _EXPAT_PLACE.sub(r"line \1: ", _SPACES.sub(" ", text).strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_ENTRIES = 1_000  # entries read from one document; news feeds list 10 to 200


# -- dates ------------------------------------------------------------------------------------
# A news item's date is between these; any other (« 31 Dec 9999 », « 01 Jan 0001 ») is unknown:
# it would overflow when shown in a time zone, and no story is that old or that far ahead.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def usable_date(when: time.struct_time | None, title: str, notes: list[str]) -> datetime | None:
    """The item's date as a UTC datetime, or None (unknown, said in `notes`, which become the
    feed's warning) when it is none a news item can have."""
    if when is None:
        return None
    try:
        moment: datetime | None = datetime(*when[:6], tzinfo=UTC)
    except (ValueError, OverflowError):  # year 0, month 13…
        moment = None
    if moment is not None and EARLIEST <= moment < LATEST:
        return moment
    shown = "-".join(f"{part:02d}" for part in when[:3])
    notes.append(f"item '{_short(title, 60)}': date {shown} taken as unknown")
    return None

# feedparser gives None for French day and month names, and reads CET/CEST as UTC (1–2 h off).

_MONTHS = {
    "jan": 1, "janv": 1, "janvier": 1, "feb": 2, "fev": 2, "fevr": 2, "fevrier": 2, "mar": 3,
    "mars": 3, "apr": 4, "avr": 4, "avril": 4, "may": 5, "mai": 5, "jun": 6, "juin": 6,
    "jul": 7, "juil": 7, "juillet": 7, "aug": 8, "aou": 8, "aout": 8, "sep": 9, "sept": 9,
    "septembre": 9, "oct": 10, "octobre": 10, "nov": 11, "novembre": 11, "dec": 12,
    "decembre": 12,
}
_ZONES = {"cet": 60, "cest": 120, "met": 60, "mest": 120, "wet": 0, "west": 60, "ut": 0,
          "utc": 0, "gmt": 0, "z": 0}
_DATE = re.compile(
    r"^\s*(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})"
    r"(?:\s+|\s*[,à]\s*)(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*([+-]\d{2}:?\d{2}|[A-Za-z]+)?\s*$")


def parse_french_date(value: str) -> time.struct_time | None:
    """RFC 822-like dates, with French or English day and month names and European zone names
    (CET, CEST…) → UTC; None for anything else, which feedparser's own handlers then try."""
    from monitor.core.text import fold_word  # local: keep feedparser's handler import light

    found = _DATE.match(value)
    if not found:
        return None
    day, month_name, year, hour, minute, second, zone = found.groups()
    month = _MONTHS.get(fold_word(month_name))
    zone_key = (zone or "").lower()
    if month is None or (zone and zone_key not in _ZONES and zone[0] not in "+-"):
        return None
    if zone_key in _ZONES:
        offset = _ZONES[zone_key]
    elif zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if zone[0] == "-" else 1)
    else:
        offset = 0
    stamp = datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0),
                     tzinfo=UTC).timestamp() - offset * 60
    return time.gmtime(stamp)


@cache
def _feedparser() -> Any:
    """feedparser, taught French dates. Imported on first use: feeds are parsed in the worker
    processes (whose fork server preloads it), and the daemon's process need not load it."""
    import feedparser

    feedparser.registerDateHandler(parse_french_date)
    return feedparser
