"""What a worker process does with one item: extract the article and fingerprint it (both CPU)."""

from __future__ import annotations

from monitor.core import dedup, extract
from monitor.core.dedup import Fingerprint
from monitor.core.models import Article, Entry


def analyse(entry: Entry, html: bytes | None, outlet: str, tags: tuple[str, ...],
            seen_at: float) -> tuple[Article, Fingerprint]:
    article = extract.extract(entry, html, outlet, tags)  # without html: the feed's summary
    return article, dedup.fingerprint(article, seen_at)

