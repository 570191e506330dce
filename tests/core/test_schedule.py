import random

from monitor.core.schedule import ALERT_MAX_RETRY, alert_retry_at, next_check


def test_next_check_is_the_interval_when_healthy() -> None:
    assert next_check(1000.0, 600.0, 0, 3600.0, jitter=0) == 1600.0


def test_failures_back_off_doubling_up_to_the_cap_and_never_stop() -> None:
    delays = [next_check(0.0, 60.0, failures, 3600.0, jitter=0) for failures in range(12)]
    assert delays[:6] == [60.0, 60.0, 120.0, 240.0, 480.0, 960.0]
    assert max(delays) == 3600.0 and delays[-1] == 3600.0


def test_jitter_stays_within_bounds() -> None:
    rng = random.Random(1)
    times = [next_check(0.0, 600.0, 0, 3600.0, jitter=0.1, rng=rng) for _ in range(200)]
    assert min(times) >= 540.0 and max(times) <= 660.0 and len(set(times)) > 100


def test_alert_retries_start_near_ten_seconds_and_cap_at_ten_minutes() -> None:
    rng = random.Random(2)
    first = alert_retry_at(0.0, 1, rng)
    assert 5.0 <= first <= 10.0
    assert 10.0 <= alert_retry_at(0.0, 2, rng) <= 20.0
    assert alert_retry_at(0.0, 30, rng) <= ALERT_MAX_RETRY
