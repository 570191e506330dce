"""Items a feed listed last time, byte for byte, are not parsed again. A news feed that changed
lists two new items among thirty known ones; feedparser and our entry building cost about
0.3 ms per item, so parsing the new ones alone is most of a steady-state poll's CPU saved.

The document is split into its items by bytes (`split`), each known by a digest of its bytes
and of its context (the prolog up to the root element's start tag, where encodings, entities,
namespaces, xml:base and xml:lang are declared, and the declared charset). The items seen in
the feed's last clean parse are cut out and feedparser parses the rest, which stays the
document it was (head, the other items, tail). Anything unusual — an encoding that is not
ASCII-compatible, items inside comments or CDATA, nested or unbalanced items, a warning from
the shortened document — means a full parse, so the entries are always those a full parse gives
for the items kept (`tests/core/test_seen_items.py` proves it on corpora).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

DIGEST = 8  # bytes per item's digest: 240 bytes remember a feed of 30 items

_TOKENS = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<(/?)(item|entry)(?=[\s>/])[^>]*>", re.S)
_ROOT = re.compile(rb"<[A-Za-z_][^>]*>")  # the first start tag: the root element's


@dataclass(frozen=True, slots=True)
class Items:
    """A document's items, as byte ranges, each with its digest."""

    spans: tuple[tuple[int, int], ...]
    digests: bytes  # DIGEST bytes per item, in order

    def digest(self, index: int) -> bytes:
        return self.digests[index * DIGEST:(index + 1) * DIGEST]


def split(body: bytes, headers: Mapping[str, str] | None = None) -> Items | None:
    """The items of an RSS (`<item>`) or Atom (`<entry>`) document, or None when it cannot be
    split safely (then it is parsed whole)."""
    if body[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or body[:2] in (
            b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:512]:
        return None  # UTF-16 or UTF-32: markup is not found by ASCII bytes
    root = _ROOT.search(body)
    if root is None:
        return None
    charset = (headers or {}).get("content-type", "").encode("latin-1", "replace")
    context = hashlib.blake2b(body[:root.end()] + b"\0" + charset, digest_size=16).digest()
    spans: list[tuple[int, int]] = []
    kind, start = b"", -1
    for token in _TOKENS.finditer(body, root.end()):
        closing, name = token.group(1), token.group(2)
        if name is None:  # a comment or CDATA section: skipped whole, wherever it is
            continue
        if token.start() < root.end():
            return None
        if kind and name != kind:
            return None  # <item> and <entry> mixed: not a document to cut into
        kind = name
        if not closing:
            if start >= 0 or token.group().endswith(b"/>"):
                return None  # an item within an item, or an empty one
            start = token.start()
        else:
            if start < 0:
                return None
            spans.append((start, token.end()))
            start = -1
    if start >= 0 or not spans:
        return None
    digests = b"".join(hashlib.blake2b(body[begin:end], digest_size=DIGEST, key=context).digest()
                       for begin, end in spans)
    return Items(tuple(spans), digests)


def without(body: bytes, items: Items, known: bytes) -> tuple[bytes, int]:
    """`body` without the items whose digest is in `known` (digests run together, as
    `Items.digests`), and how many were cut out."""
    seen = {known[at:at + DIGEST] for at in range(0, len(known), DIGEST)}
    parts, last, cut = [], 0, 0
    for index, (begin, end) in enumerate(items.spans):
        if items.digest(index) in seen:
            parts.append(body[last:begin])
            last, cut = end, cut + 1
    parts.append(body[last:])
    return b"".join(parts), cut
