"""The first poll of a feed: which of the items it lists are old news, to be stored, matched and
put in their stories (so that backtests and follow-ups know them) but never alerted on.

Without this, adding 142 feeds raised 58 alerts at once, many of them days old: a feed lists its
last few days, and none of it is news to the user who just added it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.core.models import Entry

HANDFUL = 5  # a feed listing more undated items than this is showing its archive


def old_entries(entries: Sequence[Entry], now: float, backfill: float | None) -> frozenset[int]:
    """The indexes of the entries, listed by a feed's first successful poll, that raise no
    alert: published more than `backfill` seconds before `now` (None: alert on every one; 0:
    only on what appears from now on). An undated entry is old when the feed lists more than a
    handful, as an archive does."""
    if backfill is None:
        return frozenset()
    if backfill == 0:
        return frozenset(range(len(entries)))
    undated_are_old = len(entries) > HANDFUL
    return frozenset(index for index, entry in enumerate(entries)
                     if _older(entry.published, now - backfill, undated_are_old))


def _older(published: datetime | None, limit: float, undated_are_old: bool) -> bool:
    if published is None:
        return undated_are_old
    return published.timestamp() < limit
