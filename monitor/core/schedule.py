"""When to poll a feed again and when to retry an alert: pure functions of time and failures."""

from __future__ import annotations

import random

ALERT_FIRST_RETRY = 10.0
ALERT_MAX_RETRY = 600.0
ALERT_MAX_AGE = 24 * 3600.0


def next_check(now: float, interval: float, failures: int, max_backoff: float,
               jitter: float = 0.1, rng: random.Random | None = None) -> float:
    """Next poll time: the interval, doubled for each consecutive failure after the first, up to
    `max_backoff`, never giving up on a feed; spread by ±`jitter` so that feeds added together
    do not poll in lockstep."""
    delay: float = interval * 2 ** min(max(failures - 1, 0), 20)  # int ** int is Any to mypy
    delay = min(delay, max(max_backoff, interval))
    spread = (rng or random).uniform(-jitter, jitter) * delay
    return now + delay + spread


def alert_retry_at(now: float, attempts: int, rng: random.Random | None = None,
                   max_delay: float = ALERT_MAX_RETRY) -> float:
    """After `attempts` failed sends: ~10 s, doubling, capped at `max_delay`, with full jitter
    in the upper half so a recovering service is not hit by every alert at once."""
    delay: float = min(ALERT_FIRST_RETRY * 2 ** max(0, min(attempts, 60) - 1), max_delay)
    return now + delay * (rng or random).uniform(0.5, 1.0)
