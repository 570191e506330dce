"""`monitor alerts` (the outbox: list, retry) and `monitor notify test` (try each channel)."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from monitor.config.config import CONSOLE, Config, source_dir
from monitor.core.secrets import scrub
from monitor.net.notify import Notifier
from monitor.store.store import Store

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def when(stamp: float | None, zone: ZoneInfo) -> str:
    """A moment in the configured zone (`notify.timezone`), as every listing shows it."""
    return datetime.fromtimestamp(stamp, zone).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"


def times_in(config: Config) -> str:
    """The line under a listing that says which clock its times are on."""
    return f"times in {config.notify.timezone} (notify.timezone)"


def wrapped(text: str, indent: int) -> str:
    """All of `text`, wrapped to the terminal (an error's explanation comes last)."""
    width = max(60, shutil.get_terminal_size().columns)
    return textwrap.fill(text, width, initial_indent=" " * indent, subsequent_indent=" " * indent)


def list_alerts(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    store = Store(config.database)
    zone = config.notify.zone
    try:
        rows = store.outbox.rows(state=args.status, since=time.time() - args.since,
                                 now=time.time(), limit=args.limit)
    finally:
        store.close()
    print(f"{'ID':>6}  {'STATUS':<8} {'CHANNEL':<12} {'RULE':<20} {'TRIES':>5}  "
          f"{'CREATED':<19}  {'NEXT / SENT':<19}  TITLE", file=out)
    for row in rows:
        moment = row.delivered_at if row.state == "sent" else (
            row.next_attempt if row.state in ("pending", "held", "failed") else None)
        print(f"{row.id:>6}  {row.state:<8} {row.channel[:12]:<12} {row.rule[:20]:<20} "
              f"{row.attempts:>5}  {when(row.created_at, zone):<19}  {when(moment, zone):<19}  "
              f"{row.title[:60]}", file=out)
        if row.last_error and row.state != "sent":  # scrubbed when stored, and again here
            error = scrub(row.last_error, config.notify.all_urls())
            print(wrapped(f"last error: {error}", 8), file=out)
    print(f"{len(rows)} alert(s); {times_in(config)}", file=out)
    return EXIT_OK


def retry(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    if not args.ids and not args.dead:
        print("monitor: give alert IDs or --dead", file=sys.stderr)
        return EXIT_INVALID
    store = Store(config.database)
    try:
        statuses = store.outbox.statuses(args.ids)
        count = store.outbox.requeue(now=time.time(), max_age=config.notify.max_age, ids=args.ids,
                                     dead=args.dead)
    finally:
        store.close()
    for alert_id in args.ids:
        status = statuses.get(alert_id)
        if status != "dead":
            reason = {None: "no such alert", "sent": "already sent, not sent again",
                      "pending": "already waiting to be sent"}[status]
            print(f"monitor: alert {alert_id}: {reason}", file=sys.stderr)
    print(f"{count} alert(s) requeued; the daemon (or the next `monitor once`) sends them",
          file=out)
    return EXIT_OK if count else EXIT_FAILED


def notify_test(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    names = [args.channel] if args.channel else [CONSOLE, *config.notify.channels]
    unknown = [name for name in names if name != CONSOLE and name not in config.notify.channels]
    if unknown:
        print(f"monitor: unknown channel '{unknown[0]}'", file=sys.stderr)
        return EXIT_INVALID
    notifier = Notifier(config.notify.channels, base=source_dir(config), out=out,
                        timeout=config.notify.timeout)
    failures = 0
    for name in names:
        for shown, result in notifier.test(name):
            failures += not result.ok
            verdict = "ok" if result.ok else f"FAILED: {result.error}"
            print(f"{name}: {verdict}" if shown == name else f"{name}: {shown}: {verdict}",
                  file=out)
    return EXIT_OK if not failures else EXIT_FAILED
