"""What the three runners (poll, complete, dispatch) share: the running config and rules,
swapped whole on reload, the storage, the clients, and the flag that stops them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.config import Config
from monitor.http import HttpClient
from monitor.metrics import Metrics
from monitor.notify import Notifier
from monitor.rules import RuleSet
from monitor.storage import Storage
from monitor.workers import Workers


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
    stopping: bool = False  # set on shutdown: finish the current step, start no new one
