"""Which items of a feed's first poll are old news."""

from datetime import UTC, datetime

from monitor.core.backfill import old_entries
from monitor.core.models import Entry

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC).timestamp()
DAY = 24 * 3600.0


def entry(hours_ago: float | None) -> Entry:
    published = None if hours_ago is None else datetime.fromtimestamp(NOW - hours_ago * 3600, UTC)
    return Entry("https://a.fr/rss", None, f"https://a.fr/{hours_ago}", "t", "s", published)


def test_items_published_before_the_backfill_window_are_old() -> None:
    entries = [entry(1), entry(23.9), entry(24.1), entry(72)]
    assert old_entries(entries, NOW, DAY) == {2, 3}
    assert old_entries(entries, NOW, 2 * 3600.0) == {1, 2, 3}


def test_all_alerts_on_everything_and_zero_on_nothing() -> None:
    entries = [entry(1), entry(72), entry(None)]
    assert old_entries(entries, NOW, None) == set()
    assert old_entries(entries, NOW, 0.0) == {0, 1, 2}


def test_undated_items_are_old_only_in_a_feed_that_lists_more_than_a_handful() -> None:
    assert old_entries([entry(None)] * 5, NOW, DAY) == set()
    assert old_entries([entry(None)] * 6, NOW, DAY) == set(range(6))
    assert old_entries([entry(1)] * 5 + [entry(None)], NOW, DAY) == {5}
