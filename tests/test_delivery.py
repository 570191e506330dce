"""Digests, quiet hours and rate limits, with an injected clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.channels import ChannelConfig
from monitor.delivery import Hold, plan
from monitor.outbox import QueuedAlert

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def alert(id: int, priority: str = "normal", batch: bool = False) -> QueuedAlert:
    return QueuedAlert(id, "ops", "r", priority, f"T{id}", {"rule": "r", "title": f"T{id}"},
                       batch, 0, at("2025-11-26T00:00"))


def channel(**settings) -> ChannelConfig:
    return ChannelConfig(urls=["json://x/y"], **settings)


def shape(result):
    sends, holds = result
    return [([a.id for a in s.alerts], s.digest) for s in sends], holds


def test_a_plain_channel_sends_each_alert_now() -> None:
    assert shape(plan([alert(1), alert(2)], channel(), at("2025-11-24T12:00"), PARIS)) == \
        ([([1], False), ([2], False)], [])
    assert shape(plan([alert(1)], None, at("2025-11-24T12:00"), PARIS)) == ([([1], False)], [])


def test_a_digest_channel_holds_new_alerts_then_sends_them_together() -> None:
    daily = channel(digest={"at": "08:00"})
    assert shape(plan([alert(1), alert(2)], daily, at("2025-11-24T12:00"), PARIS)) == \
        ([], [Hold((1, 2), at("2025-11-25T08:00"))])
    held = [alert(1, batch=True), alert(2, batch=True)]
    assert shape(plan(held, daily, at("2025-11-25T08:00"), PARIS)) == ([([1, 2], True)], [])


def test_quiet_hours_hold_all_but_high_priority() -> None:
    night = channel(quiet="22:00-07:00")
    sends, holds = shape(plan([alert(1), alert(2, "high"), alert(3, batch=True)], night,
                              at("2025-11-24T23:00"), PARIS))
    assert sends == [([2], False)]
    assert holds == [Hold((1, 3), at("2025-11-25T07:00"))]
    morning = [alert(1, batch=True), alert(3, batch=True)]
    assert shape(plan(morning, night, at("2025-11-25T07:00"), PARIS)) == ([([1, 3], True)], [])


def test_over_the_rate_limit_the_excess_waits_as_one_digest() -> None:
    limited = channel(rate_limit="2/min")
    now = at("2025-11-24T12:00")
    sends, holds = shape(plan([alert(i) for i in range(1, 6)], limited, now, PARIS))
    assert sends == [([1], False), ([2], False)]
    assert holds == [Hold((3, 4, 5), now + 60)]
    sends, holds = shape(plan([alert(6)], limited, now, PARIS, sent_in_window=2))
    assert (sends, holds) == ([], [Hold((6,), now + 60)])
    later = [alert(3, batch=True), alert(4, batch=True), alert(5, batch=True)]
    assert shape(plan(later, limited, now + 60, PARIS)) == ([([3, 4, 5], True)], [])
