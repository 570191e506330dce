"""Troubles worked around: said while they last, for a while after, and counted."""

from prometheus_client import CollectorRegistry, Counter

from monitor.telemetry.troubles import SHOWN_FOR, Troubles


def test_a_trouble_is_said_with_its_age_until_cleared_or_old_and_counted() -> None:
    now = [1000.0]
    counter = Counter("t", "t", ["kind"], registry=CollectorRegistry())
    troubles = Troubles(counter, clock=lambda: now[0])
    assert troubles.current() == []
    troubles.note("lease-lost", "feed 'Le Monde'")
    now[0] += 12
    troubles.note("stories-lock", "the 'stories' lock stayed taken by another instance")
    now[0] += 3
    assert troubles.current() == [
        "work taken over by another instance (this process paused?) (15 s ago)",
        "waiting on the stories lock (another instance holds it) (3 s ago)"]
    assert troubles.current(details=True)[0] == (
        "work taken over by another instance (this process paused?): feed 'Le Monde' (15 s ago)")
    troubles.clear("stories-lock")
    assert len(troubles.current()) == 1
    now[0] += SHOWN_FOR - 15
    assert len(troubles.current()) == 1  # still within its time
    now[0] += 1
    assert troubles.current() == []
    assert counter.labels("lease-lost")._value.get() == 1
    assert counter.labels("stories-lock")._value.get() == 1


def test_a_trouble_s_details_hold_no_secret() -> None:
    from monitor.telemetry import logs

    logs.hide({"xoxb-TROUBLE-TOKEN"})
    try:
        troubles = Troubles()
        troubles.note("write-failed", "delivery to 'slack': slack://xoxb-TROUBLE-TOKEN/#veille")
        (said,) = troubles.current(details=True)
        assert "xoxb-TROUBLE-TOKEN" not in said and "slack://****/#veille" in said
    finally:
        logs._secrets.secrets.discard("xoxb-TROUBLE-TOKEN")
