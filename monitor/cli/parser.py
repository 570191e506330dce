"""The `monitor` command line: every command and option, and the global options (--config,
-v, -q, --log-format) taken before or after the command."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor import __version__
from monitor.core.units import period

GLOBAL_DEFAULTS = {"config": None, "verbose": 0, "quiet": 0, "log_format": "auto"}


def _global_options(prefix: str) -> argparse.ArgumentParser:
    """--config, -v, -q and --log-format, given before or after the command (or both). Each
    level writes to names of its own (`prefix`): argparse shares option objects between a
    parser and its parents, so one set of names would let a subcommand's defaults erase what
    was given before it."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", "-c", type=Path, dest=f"{prefix}config",
                         default=argparse.SUPPRESS,
                         help="config file (default: ./config.yaml, then $MONITOR_CONFIG)")
    options.add_argument("--verbose", "-v", action="count", dest=f"{prefix}verbose",
                         default=argparse.SUPPRESS, help="more logging (-vv for debug)")
    options.add_argument("--quiet", "-q", action="count", dest=f"{prefix}quiet",
                         default=argparse.SUPPRESS, help="less logging")
    options.add_argument("--log-format", choices=["auto", "text", "json"],
                         dest=f"{prefix}log_format", default=argparse.SUPPRESS,
                         help="log lines as text or JSON (default: text on a terminal, else JSON)")
    return options


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with the global options merged from wherever they were given: a value
    after the command wins over one before it; -v and -q add up."""
    args = build_parser().parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        before, after = getattr(args, name, None), getattr(args, f"sub_{name}", None)
        if isinstance(default, int):
            setattr(args, name, (before or 0) + (after or 0))
        else:
            setattr(args, name, after if after is not None else
                    before if before is not None else default)
        if hasattr(args, f"sub_{name}"):
            delattr(args, f"sub_{name}")
    return args


def build_parser() -> argparse.ArgumentParser:
    common = _global_options("sub_")
    parser = argparse.ArgumentParser(
        prog="monitor", parents=[_global_options("")],
        description="Watch news feeds, match rules, alert once per story.")
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", parents=[common], help="run the daemon until SIGTERM or Ctrl-C")
    commands.add_parser("once", parents=[common],
                        help="poll every feed once, deliver the alerts, and exit")
    commands.add_parser("check", parents=[common],
                        help="validate the config and every rule file; exit 2 on problems")
    rules = commands.add_parser("rules", parents=[common], help="try rules: test, backtest")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    test = rule_commands.add_parser(
        "test", parents=[common],
        help="show which rules match a text, file or URL, and why (exit 0 if any, 1 if none)")
    test.add_argument("rule_files", nargs="*", type=Path, metavar="RULE_FILE",
                      help="rule files or directories (default: the config's rules)")
    source = test.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to test")
    source.add_argument("--file", help="an HTML page or a text file")
    source.add_argument("--url", help="a page to fetch and extract, as the daemon would")
    backtest = rule_commands.add_parser(
        "backtest", parents=[common],
        help="run rules over stored articles and show what would have alerted (sends nothing)")
    backtest.add_argument("rule_files", nargs="*", type=Path, metavar="RULE_FILE",
                          help="rule files or directories (default: the config's rules)")
    backtest.add_argument("--since", type=period, default="7d", help="how far back (default: 7d)")
    backtest.add_argument("--top", type=int, default=5,
                          help="latest matching articles shown per rule (default: 5)")
    alerts = commands.add_parser("alerts", parents=[common],
                                 help="list the alert outbox; `alerts retry` requeues")
    alerts.add_argument("--status", choices=["pending", "held", "failed", "sent", "dead", "muted"],
                        help="only alerts in this state: pending (due), held (waiting for a "
                             "digest, quiet hours, a rate window), failed (to be tried again), "
                             "sent, dead, muted (their story was muted before they went out)")
    alerts.add_argument("--since", type=period, default="24h", help="created since (default: 24h)")
    alerts.add_argument("--limit", type=int, default=200, help="at most this many (default: 200)")
    alert_commands = alerts.add_subparsers(dest="alerts_command", metavar="COMMAND")
    retry = alert_commands.add_parser("retry", parents=[common],
                                      help="requeue alerts by ID, or every dead one")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--dead", action="store_true", help="requeue every dead-lettered alert")
    feeds = commands.add_parser(
        "feeds", parents=[common],
        help="each feed: status, last success, failures, items, next poll; add, remove, "
             "import, export")
    feed_commands = feeds.add_subparsers(dest="feeds_command", metavar="COMMAND")
    add = feed_commands.add_parser(
        "add", parents=[common],
        help="add a feed to config.yaml, given its URL or a page of its site")
    add.add_argument("url", help="the feed's address, or a page that links it")
    add.add_argument("--name", help="its name (default: the feed's title)")
    add.add_argument("--tags", help="comma-separated tags, for rules' `tags:` filter")
    remove = feed_commands.add_parser("remove", parents=[common],
                                      help="remove a feed from config.yaml")
    remove.add_argument("feed", help="its name (or URL)")
    poll = feed_commands.add_parser(
        "poll", parents=[common],
        help="have the running daemon poll a feed at its next tick (after adding or fixing it)")
    poll.add_argument("feed", help="its name (or URL)")
    import_ = feed_commands.add_parser(
        "import", parents=[common],
        help="add the feeds of an OPML file (folders become tags; known feeds are skipped)")
    import_.add_argument("file", help="an OPML file, as feed readers export")
    feed_commands.add_parser("export", parents=[common],
                             help="print the feeds as OPML 2.0 (tags become folders)")
    stories = commands.add_parser("stories", parents=[common],
                                  help="recent stories and their outlets (--json: every article)")
    stories.add_argument("--since", type=period, default="24h", help="seen since (default: 24h)")
    stories.add_argument("--json", action="store_true",
                         help="every story with its articles, as JSON")
    story_commands = stories.add_subparsers(dest="stories_command", metavar="COMMAND")
    for verb, told in (("mute", "no more alerts of any kind for these stories (their alerts "
                                "not yet sent are muted too)"),
                       ("unmute", "these stories alert again, from their next article")):
        muting = story_commands.add_parser(verb, parents=[common], help=told)
        muting.add_argument("story", type=int, nargs="+", help="a story's number (#12: 12)")
    notify = commands.add_parser("notify", parents=[common], help="notification channels")
    notify_commands = notify.add_subparsers(dest="notify_command", required=True,
                                            metavar="COMMAND")
    notify_test = notify_commands.add_parser(
        "test", parents=[common],
        help="send a test message through each URL of a channel (or all) and report")
    notify_test.add_argument("channel", nargs="?", help="a channel name (default: all)")
    migrate = commands.add_parser(
        "migrate", parents=[common],
        help="move a SQLite database, whole, into an empty PostgreSQL one (for several instances)")
    migrate.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE",
                         help="the SQLite database file (no daemon may be running on it)")
    migrate.add_argument("--to", dest="target", metavar="URL",
                         help="postgresql://user@host/db (default: the config's database; the "
                              "password is best left to PGPASSWORD or ~/.pgpass)")
    console = commands.add_parser("console", parents=[common], help="the web console's login")
    console_commands = console.add_subparsers(dest="console_command", required=True,
                                              metavar="COMMAND")
    console_commands.add_parser(
        "hash-password", parents=[common],
        help="read a password (twice, not echoed; or one line on stdin) and print its argon2 "
             "hash, for http.auth.password_hash")
    return parser
