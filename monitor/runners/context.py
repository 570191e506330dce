"""What the three runners (poll, complete, dispatch) share: the running config and rules,
swapped whole on reload, the storage, the clients, and the flag that stops them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.config.config import Config
from monitor.core.rules import RuleSet
from monitor.net.http import HttpClient
from monitor.net.notify import Notifier
from monitor.runners.workers import Workers
from monitor.store.roles import Storage
from monitor.telemetry.metrics import Metrics
from monitor.telemetry.troubles import Troubles


@dataclass
class Context:
    config: Config
    rules: RuleSet  # read once per item: a reload never changes the rules mid-item
    notifier: Notifier
    store: Storage
    http: HttpClient
    workers: Workers
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)
    # named entities, in a process of their own (one language model in memory, however many
    # extraction workers), stopped when idle; None: in the extraction workers
    entities: Workers | None = None
    stopping: bool = False  # set on shutdown: finish the current step, start no new one
    troubles: Troubles = field(init=False)  # what is worked around: /healthz says `degraded`

    def __post_init__(self) -> None:
        self.troubles = Troubles(self.metrics.troubles)
