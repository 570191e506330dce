"""What the daemon works around rather than fails on: the stories lock another instance holds,
work another instance took over, a write the database refused. Each is retried at its next
tick, so the daemon goes on; but an operator should see it while it lasts, so each is kept
for a while for /healthz (`degraded: …`), the console's banner, `systemctl status` and
`monitor_troubles_total`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import Counter

from monitor.telemetry.logs import scrubbed

SHOWN_FOR = 120.0  # seconds a trouble stays reported after it was last seen


class Troubles:
    """Thread-safe: noted from the event loop and from the database threads alike."""

    # what /healthz, which anyone may ask, says of each: no detail (addresses, errors)
    KINDS = {"stories-lock": "waiting on the stories lock (another instance holds it)",
             "lease-lost": "work taken over by another instance (this process paused?)",
             "write-failed": "a finishing write refused by the database",
             "database": "the heartbeat not written (database read-only or full?)"}

    def __init__(self, counter: Counter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._counter = counter
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, str]] = {}  # kind → (when last, its detail)

    def note(self, kind: str, detail: str) -> None:
        """`kind` (one of KINDS) happened; `detail` is for the console and systemd (its
        secrets scrubbed, as in the log: a channel's error may quote its URL)."""
        assert kind in self.KINDS, kind
        with self._lock:
            self._seen[kind] = (self._clock(), scrubbed(detail))
        if self._counter is not None:
            self._counter.labels(kind).inc()

    def clear(self, kind: str) -> None:
        """`kind` is over (the lock was taken, the database took a write)."""
        with self._lock:
            self._seen.pop(kind, None)

    def current(self, details: bool = False) -> list[str]:
        """What is wrong now, or was in the last SHOWN_FOR seconds, each with its age."""
        now = self._clock()
        with self._lock:
            self._seen = {kind: seen for kind, seen in self._seen.items()
                          if now - seen[0] <= SHOWN_FOR}
            seen = sorted((when, kind, detail) for kind, (when, detail) in self._seen.items())
        return [f"{self.KINDS[kind]}{': ' + detail if details else ''} ({now - when:.0f} s ago)"
                for when, kind, detail in seen]
