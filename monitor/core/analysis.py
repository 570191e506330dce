"""What a worker process does with one item: extract the article and fingerprint it (both CPU)."""

from __future__ import annotations

from monitor.core import dedup, extract
from monitor.core.dedup import Fingerprint
from monitor.core.models import Article, Entry


def analyse(entry: Entry, html: bytes | None, outlet: str, tags: tuple[str, ...],
            seen_at: float) -> tuple[Article, Fingerprint]:
    article = extract.extract(entry, html, outlet, tags)  # without html: the feed's summary
    return article, dedup.fingerprint(article, seen_at)


Summary = tuple[Entry, str, tuple[str, ...], float]  # entry, outlet, tags, seen_at


def analyse_summaries(items: list[Summary]) -> list[tuple[Article, Fingerprint] | Exception]:
    """Items without a page, many per worker task (workers.Batched): each one's article and
    fingerprint, or what it raised (a bug on one item costs no other)."""
    results: list[tuple[Article, Fingerprint] | Exception] = []
    for entry, outlet, tags, seen_at in items:
        try:
            results.append(analyse(entry, None, outlet, tags, seen_at))
        except Exception as error:
            results.append(error)
    return results

