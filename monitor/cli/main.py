"""The `monitor` command: `run` (the daemon), `once` (one pass, then exit), `check` (validate),
`rules test|backtest`, `alerts [retry]`, `notify test`, `feeds`, `stories`, `console
hash-password`, `migrate` (a SQLite database to PostgreSQL).

Exit codes: 0 done (for `once`, even when some feeds failed: they are named on stderr),
2 invalid config or rules (each problem on one line as file:line: field: message); `rules`,
`alerts retry` and `notify test` also use 1 for "no match", "nothing requeued", "a send failed".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.cli.parser import parse_args
from monitor.core.errors import Busy, InvalidInput, UnusableDatabase
from monitor.telemetry import logs

if TYPE_CHECKING:
    from monitor.config.config import Config
    from monitor.core.rules import RuleSet

# The rest of the daemon is imported inside the commands: worker processes re-import the module
# the `monitor` script started from (this one), and must not load what only the daemon needs.

EXIT_OK, EXIT_INVALID = 0, 2
log = logging.getLogger("monitor")


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader already gone is found here, not in a traceback at exit
        return code
    except (Busy, UnusableDatabase) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return EXIT_INVALID
    except sqlite3.DatabaseError as error:  # damage found past opening: `check` names the file
        print(f"monitor: the database is damaged ({error}); `monitor check` says which file",
              file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # « monitor stories | head -1 »: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # PostgreSQL gone mid-command (psycopg, imported only if used)
        if not type(error).__module__.startswith(("psycopg", "psycopg_pool")):
            raise
        print(f"monitor: the database server failed ({str(error).strip().splitlines()[0]}); "
              "`monitor check` says more", file=sys.stderr)
        return EXIT_INVALID


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    verbosity = args.verbose - args.quiet
    if args.command in ("once", "rules"):
        # They report for themselves: their log stays on errors, and -v shows what happened
        # to each item (the rules it matched, its story and why).
        verbosity = (args.verbose - 1 if args.verbose else -2) - args.quiet
    logs.setup({-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}.get(
        max(-2, min(verbosity, 2)), logging.DEBUG - 1), args.log_format)
    from monitor.config.config import default_path
    from monitor.runners import app

    path = args.config or default_path()
    if args.command == "console":
        return _hash_password()
    if args.command == "rules":
        return _rules(args, path)
    if args.command in ("alerts", "notify", "feeds", "stories"):
        return _outbox(args, path)
    if args.command == "check":
        return _check(path)
    if args.command == "migrate":
        return _migrate(args.source, args.target, path)
    try:
        config, rules = app.load(path)
    except InvalidInput as error:
        return _invalid(error)
    try:
        if args.command == "once":
            return asyncio.run(_once(config, rules, quiet=args.quiet > 0))
        return asyncio.run(_run(config, rules))
    except KeyboardInterrupt:
        return 130


def _hash_password() -> int:
    import getpass

    from monitor.web.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("monitor: the two passwords differ", file=sys.stderr)
            return EXIT_INVALID
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("monitor: a password of at least 8 characters, please", file=sys.stderr)
        return EXIT_INVALID
    print(hash_password(password))
    return EXIT_OK


def _migrate(source: Path, target: str | None, path: Path) -> int:
    """Move a SQLite database into PostgreSQL: `--to`, else the config's `database:`."""
    from monitor.config.config import is_postgres
    from monitor.core.secrets import redact
    from monitor.runners import app
    from monitor.store.migrate import MigrationRefused, migrate

    if target is None:
        try:
            database = app.load_config(path).database
        except InvalidInput as error:
            return _invalid(error)
        if not is_postgres(str(database)):
            print(f"monitor: {path}: database: not a postgresql:// URL; give the target with "
                  "--to postgresql://user@host/db", file=sys.stderr)
            return EXIT_INVALID
        target = str(database)
    def progress(table: str, copied: int, total: int) -> None:
        print(f"\r{table}: {copied:,} / {total:,} rows", end="\n" if copied == total else "",
              file=sys.stderr, flush=True)

    try:
        copied = migrate(source, target, progress if sys.stderr.isatty() else None)
    except MigrationRefused as error:
        print(f"monitor: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{source} → {redact(target)}: " + ", ".join(
        f"{count} {table}" for table, count in copied.items()))
    return EXIT_OK


def _check(path: Path) -> int:
    """Every problem of the config and of every rule file at once (the rules are checked even
    when the config has problems: against no channel list then), then the database."""
    from monitor.cli.rules import shown
    from monitor.config import config as config_module
    from monitor.config.config import CONSOLE
    from monitor.core import rulefiles
    from monitor.core.rules import unreachable_filters
    from monitor.runners import app
    from monitor.store.store import Store

    problems = []
    config = None
    try:
        config = app.load_config(path)
    except InvalidInput as error:
        problems += error.problems
    rules = None
    try:
        if config is not None:
            rules = app.load_rules(config)
        else:
            rulefiles.load(config_module.rule_paths(path), None, [CONSOLE])
    except InvalidInput as error:
        problems += error.problems
    if problems or config is None or rules is None:
        _invalid(InvalidInput(problems))
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_INVALID
    Store.verify(config.database)
    feeds = [(feed.name, feed.url, feed.tags) for feed in config.feeds]
    for rule in rules.rules:
        for warning in unreachable_filters(rule, feeds):
            print(f"{shown(rule.origin)}: rule '{rule.name}': warning: {warning}",
                  file=sys.stderr)
    files = len({rule.origin.rsplit(":", 1)[0] for rule in rules.rules})
    used = {*config.notify.default, *config.notify.ops_channels(),
            *(channel for rule in rules.rules for channel in rule.channels)}
    console = " (and the console)" if CONSOLE in used else ""
    print(f"{path}: OK: {len(config.feeds)} feed(s), {len(rules)} rule(s) in {files} "
          f"file(s), {len(config.notify.channels)} channel(s){console}")
    return EXIT_OK


def _invalid(error: InvalidInput) -> int:
    """Every problem, one line each (file:line: field: message), and the exit code for it."""
    for problem in error.problems:
        print(problem, file=sys.stderr)
    return EXIT_INVALID


async def _once(config: Config, rules: RuleSet, quiet: bool = False) -> int:
    """One pass; on stderr, each feed that failed, then a summary (not with -q: a cron job's
    mail then says only what went wrong)."""
    from monitor.runners import app

    async with app.open_pipeline(config, rules) as pipeline:
        report = await pipeline.run_pass(pipeline.enabled_feeds())
    for poll in report.polls:
        if poll.status == "failed":
            print(f"monitor: feed '{poll.feed}' failed: {poll.error}", file=sys.stderr)
        elif poll.status == "malformed":
            print(f"monitor: feed '{poll.feed}' is malformed: {poll.error} ({poll.entries} "
                  "entries read all the same)", file=sys.stderr)
    if quiet:
        return EXIT_OK
    counts = {status: sum(p.status == status for p in report.polls)
              for status in ("new", "malformed", "not-modified", "unchanged", "failed")}
    print(f"monitor: polled {len(report.polls)} feed(s) ({counts['new'] + counts['malformed']} "
          "changed, "
          f"{counts['not-modified'] + counts['unchanged']} unchanged, {counts['failed']} failed); "
          f"{report.processed} new item(s); {report.queued} alert(s) queued, {report.sent} sent, "
          f"{report.failed} failed{_held(report.held, config.notify.zone)}", file=sys.stderr)
    if report.old:
        print(f"monitor: {report.old} old item(s) stored without alerts (listed by a feed's "
              "first poll, published before poll.backfill)", file=sys.stderr)
    return EXIT_OK


def _held(held: list[tuple[str, int, float]], zone: ZoneInfo) -> str:
    """`, 17 held (hook: 12 until 10:00, mail: 5 until 10:00)`: what waits for a digest, the end
    of quiet hours or a rate window."""
    if not held:
        return ""
    today = datetime.now(zone).date()

    def when(at: float) -> str:
        moment = datetime.fromtimestamp(at, zone)
        return f"{moment:%H:%M}" if moment.date() == today else f"{moment:%d/%m %H:%M}"

    parts = ", ".join(f"{channel}: {count} until {when(at)}" for channel, count, at in held)
    return f", {sum(count for _, count, _ in held)} held ({parts})"


async def _run(config: Config, rules: RuleSet) -> int:
    from monitor.daemon.daemon import Daemon
    from monitor.runners import app

    async with app.open_pipeline(config, rules) as pipeline:
        await Daemon(pipeline).run()
    return EXIT_OK


def _rules(args: argparse.Namespace, path: Path) -> int:
    """`rules test` works without a config (then any channel name is accepted); `backtest`
    needs one, for its database."""
    from monitor.cli import rules as rules_cli
    from monitor.runners import app

    try:
        config = None
        if args.config or path.exists() or args.rules_command == "backtest":
            config = app.load_config(path)
        if args.rules_command == "test":
            return rules_cli.test(args, config)
        assert config is not None  # the only other command, backtest, loaded it above
        return rules_cli.backtest(args, config)
    except InvalidInput as error:
        return _invalid(error)


def _outbox(args: argparse.Namespace, path: Path) -> int:
    from monitor.cli import alerts as alerts_cli
    from monitor.runners import app

    try:
        config = app.load_config(path)
    except InvalidInput as error:
        return _invalid(error)
    if args.command == "feeds":
        return _feeds(args, config)
    if args.command == "stories":
        from monitor.cli import stories as stories_cli

        return stories_cli.stories(args, config)
    if args.command == "notify":
        return alerts_cli.notify_test(args, config)
    if args.alerts_command == "retry":
        return alerts_cli.retry(args, config)
    return alerts_cli.list_alerts(args, config)


def _feeds(args: argparse.Namespace, config: Config) -> int:
    from monitor.cli import feeds as feeds_cli

    commands = {"add": feeds_cli.add, "remove": feeds_cli.remove, "poll": feeds_cli.poll,
                "import": feeds_cli.import_opml, "export": feeds_cli.export_opml}
    if args.feeds_command is None:
        return feeds_cli.table(config)
    try:
        return commands[args.feeds_command](args, config)
    except InvalidInput as error:
        return _invalid(error)
