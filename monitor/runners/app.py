"""Wiring: load what the user wrote, and build the pipeline's I/O parts around it (and close them)."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TextIO

from monitor.config import config as config_module
from monitor.config.config import CONSOLE, Config, NetworkConfig
from monitor.core import rulefiles
from monitor.core.rules import RuleSet
from monitor.core.secrets import database_secrets, secret_parts
from monitor.net.http import HttpClient, Limits
from monitor.net.notify import Notifier
from monitor.runners.pipeline import Pipeline
from monitor.runners.workers import RENEW_AFTER, Workers
from monitor.store.lock import exclusive
from monitor.store.store import Store
from monitor.telemetry import logs


def load(path: Path) -> tuple[Config, RuleSet]:
    """The config and its rules; raises InvalidInput listing every problem in the files."""
    config = load_config(path)
    return config, load_rules(config)


def load_config(path: Path) -> Config:
    """The config, its channels' secrets registered so no log line can show them."""
    config = config_module.load(path)
    logs.hide(secret_parts(config.notify.all_urls()) | database_secrets(config.database))
    return config


@contextmanager
def _one_process_per_file(database: Path | str) -> Iterator[None]:
    """A SQLite file is one process's (a second daemon, or `once` beside one, stops here);
    PostgreSQL is shared by any number of instances, which claim their work with leases."""
    if isinstance(database, str):
        yield
        return
    with exclusive(database):
        yield


def load_rules(config: Config, paths: list[Path] | None = None) -> RuleSet:
    """The config's rules (or the rule files `paths`), checked against its channels."""
    return rulefiles.load(paths or config.rules, channels=[*config.notify.channels, CONSOLE],
                          default=config.notify.default)


def http_limits(network: NetworkConfig) -> Limits:
    return Limits(user_agent=network.user_agent, timeout=network.timeout,
                  connect_timeout=network.connect_timeout, concurrency=network.concurrency,
                  per_host=network.per_host,
                  allow_private_addresses=network.allow_private_addresses)


def notifier(config: Config, out: TextIO) -> Notifier:
    return Notifier(config.notify.channels, base=config_module.source_dir(config), out=out,
                    timeout=config.notify.timeout)


@asynccontextmanager
async def open_pipeline(config: Config, rules: RuleSet, out: TextIO | None = None,
                        clock: Callable[[], float] = time.time) -> AsyncIterator[Pipeline]:
    with _one_process_per_file(config.database):
        store = Store(config.database, config.instance, config.lease)
        try:
            store.leases.start_instance()
        except BaseException:
            store.close()
            raise
        http = HttpClient(http_limits(config.network))
        workers = Workers(config.workers, renew_after=RENEW_AFTER)
        entities = Workers(min(1, config.workers))  # one model in memory, whatever `workers`
        try:
            yield Pipeline(config, rules, store, http, workers, notifier(config, out or sys.stdout),
                           clock, entities=entities)
        finally:
            await http.close()
            workers.close()
            entities.close()
            store.leases.release()
            store.close()

