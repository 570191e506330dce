"""The `monitor` command's contract: exit codes, one-line errors, config discovery."""

from pathlib import Path

import pytest

from monitor.cli.parser import build_parser, parse_args
from tests.cli.commands import leaf_commands
from tests.e2e.helpers import PROJECT, monitor, monitor_in


def test_check_accepts_the_shipped_config() -> None:
    result = monitor("check", "--config", str(PROJECT / "config.yaml"))
    assert result.returncode == 0, result.stderr
    assert "OK: 9 feed(s)" in result.stdout
    # its default channel is the console: counted, not "0 channel(s)" alone
    assert result.stdout.rstrip().endswith("0 channel(s) (and the console)")


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    """A duplicate key, an unknown key or a broken config hides no other problem: those of the
    config and of every rule file come at once."""
    (tmp_path / "rules").mkdir()
    rules = tmp_path / "rules" / "a.yaml"
    rules.write_text("rules:\n  - name: a\n    any: [x]\n    any: [y]\n  - name: b\n"
                     "    colour: red\n    any: [{regex: '('}]\n  - name: c\n")
    config = tmp_path / "config.yaml"
    config.write_text("database: x.db\ndatabase: y.db\ncolour: blue\npoll:\n  interval: soon\n"
                      "notify:\n  default: [nowhere]\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{config}:2: database: duplicate key (the earlier value would be ignored)",
        f"{config}:3: colour: unknown key",
        f"{config}:5: poll.interval: 'soon' is not a duration such as 30s, 10m, 2h, 3d",
        f"{config}:7: notify.default[0]: unknown channel 'nowhere'",
        f"{rules}:4: rules[0].any: duplicate key (the earlier value would be ignored)",
        f"{rules}:6: rules[1].colour: unknown key",
        f"{rules}:7: rules[1].any[0].regex: invalid regular expression: missing ) at "
        "position 1",
        f"{rules}:8: rules[2]: a rule needs at least one term in 'all', 'any', 'near' or "
        "'entities'",
        "8 problem(s) found",
    ]


def test_empty_feeds_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\nrules: []\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 0 and "OK: 0 feed(s), 0 rule(s)" in result.stdout


def test_once_exits_2_on_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds:\n  - name: A\n")
    result = monitor("once", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{config}:2: feeds[0].url: Field required"


def test_missing_config_file(tmp_path: Path) -> None:
    result = monitor("check", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml: cannot read" in result.stderr


def test_config_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text("feeds: []\nrules: []\n")
    result = monitor("check", env={"MONITOR_CONFIG": str(config)})
    # PROJECT/config.yaml exists and wins over $MONITOR_CONFIG in the project directory ...
    assert "OK: 9 feed(s)" in result.stdout
    # ... elsewhere, $MONITOR_CONFIG is used.
    result = monitor_in(tmp_path, "check", env={"MONITOR_CONFIG": str(config)})
    assert result.returncode == 0 and "elsewhere.yaml: OK: 0 feed(s)" in result.stdout


def test_version_and_help() -> None:
    assert monitor("--version").stdout.startswith("monitor ")
    result = monitor("--help")
    assert result.returncode == 0
    for command in ("run", "once", "check"):
        assert command in result.stdout


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    """`monitor feeds | head -1` on a long list: the reader goes after one line."""
    import subprocess
    import sys

    import yaml

    from tests.e2e.helpers import environment

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "m.db"), "rules": [], "feeds": [
        {"name": f"Fil numéro {n} au nom assez long", "url": f"https://exemple{n}.fr/rss.xml"}
        for n in range(3000)]}), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "monitor", "feeds", "--config", str(config)],
                               cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment())
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"FEED")
    process.stdout.close()  # like `head -1`
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, error
    assert "Traceback" not in error and "BrokenPipe" not in error


# -- global options, before or after the command ----------------------------------------------

# The shortest valid command line of every command; the test below fails when a command is
# added to the parser and not here.
COMMANDS = {
    "run": [], "once": [], "check": [], "rules test": ["--text", "x"], "rules backtest": [],
    "alerts": [], "alerts retry": ["1"], "feeds": [], "feeds add": ["https://a.example"],
    "feeds remove": ["A"], "feeds import": ["a.opml"], "feeds export": [],
    "feeds poll": ["A"], "stories": [], "stories mute": ["1"], "stories unmute": ["1"],
    "notify test": [], "migrate": ["--from", "a.db"],
    "console hash-password": [],
}


def test_every_command_is_listed_for_the_global_options_test() -> None:
    assert sorted(set(leaf_commands(build_parser()))) == sorted(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_global_options_count_before_and_after_the_command(command: str) -> None:
    """`monitor --config X COMMAND` once ran on ./config.yaml: options before a command were
    erased by the command's own defaults."""
    words = [*command.split(), *COMMANDS[command]]
    before = parse_args(["--config", "/etc/m.yaml", "-v", "--log-format", "json", *words])
    after = parse_args([*words, "--config", "/etc/m.yaml", "-v", "--log-format", "json"])
    for args in (before, after):
        assert (args.config, args.verbose, args.quiet, args.log_format) == (
            Path("/etc/m.yaml"), 1, 0, "json")
    both = parse_args(["-c", "/a.yaml", "-v", *words, "-c", "/b.yaml", "-v", "-q"])
    assert (both.config, both.verbose, both.quiet) == (Path("/b.yaml"), 2, 1)
    plain = parse_args(words)
    assert (plain.config, plain.verbose, plain.quiet, plain.log_format) == (None, 0, 0, "auto")


def test_a_config_given_before_the_command_is_the_one_used(tmp_path: Path) -> None:
    result = monitor("--config", str(tmp_path / "nope.yaml"), "check")
    assert result.returncode == 2 and f"{tmp_path / 'nope.yaml'}: cannot read" in result.stderr
    config = tmp_path / "elsewhere.yaml"
    config.write_text("feeds: []\nrules: []\n")
    result = monitor("-c", str(config), "check")
    assert result.returncode == 0 and "elsewhere.yaml: OK: 0 feed(s)" in result.stdout


def test_check_finds_what_other_problems_hid_in_one_pass(tmp_path: Path) -> None:
    """An unclosed regex beside a wrong priority, a `near` beside a wrong field, a feed named
    twice and an unknown channel beside a bad duration: all reported by the first run."""
    (tmp_path / "rules").mkdir()
    rules = tmp_path / "rules" / "a.yaml"
    rules.write_text("rules:\n  - name: a\n    priority: urgent\n    any: [{regex: '('}]\n"
                     "  - name: c\n    any: [{near: {terms: [a, b], within: -1}}]\n"
                     "    fields: [body]\n")
    config = tmp_path / "config.yaml"
    config.write_text("poll:\n  interval: soon\nfeeds:\n  - {name: A, url: 'https://a.example/'}\n"
                      "  - {name: A, url: 'https://b.example/'}\nnotify:\n  default: [nowhere]\n"
                      "  channels:\n    mail:\n      config: apprise.yml\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{config}:2: poll.interval: 'soon' is not a duration such as 30s, 10m, 2h, 3d",
        f"{config}:5: feeds[1].name: same name as feeds[0]",
        f"{config}:7: notify.default[0]: unknown channel 'nowhere'",
        f"{rules}:3: rules[0].priority: Input should be 'low', 'normal' or 'high'",
        f"{rules}:4: rules[0].any[0].regex: invalid regular expression: missing ) at position 1",
        f"{rules}:6: rules[1].any[0].near.within: expected a number of words ≥ 1",
        f"{rules}:7: rules[1].fields[0]: Input should be 'title', 'summary' or 'text'",
        "7 problem(s) found",
    ]


def test_a_missing_apprise_config_file_is_named_as_missing(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\nrules: []\nnotify:\n  channels:\n    mail:\n"
                      "      config: apprise.yml\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"{config}:6: notify.channels.mail.config: {tmp_path / 'apprise.yml'}: no such file")


@pytest.mark.parametrize("command", [["stories"], ["alerts"], ["rules", "backtest"]])
@pytest.mark.parametrize(("since", "why"), [
    ("2x", "'2x' is not a duration such as 30s, 10m, 2h, 3d"),
    ("0", "'0' needs a unit: 0m, 0h, 0d…"),
    ("0h", "must be more than zero"),
    ("2", "'2' needs a unit: 2m, 2h, 2d…"),
])
def test_a_bad_period_is_one_line_and_exit_2(tmp_path: Path, command: list[str], since: str,
                                             why: str) -> None:
    """Once a traceback and exit 1, which `rules backtest` uses for "no rule matched"."""
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\nrules: []\n")
    result = monitor(*command, "--since", since, "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(f"error: argument --since: {why}")
    assert "Traceback" not in result.stderr


def test_check_warns_of_rules_that_can_never_fire(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rules = tmp_path / "rules" / "a.yaml"
    rules.write_text("rules:\n  - name: a\n    any: [x]\n    feeds: [Le Mondd]\n"
                     "    tags: [International]\n")
    config = tmp_path / "config.yaml"
    config.write_text("feeds:\n  - {name: Le Monde, url: 'https://a.example/', "
                      "tags: [international]}\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 0, result.stderr  # warnings, not problems
    assert result.stderr.splitlines() == [
        f"{rules}:2: rule 'a': warning: feeds: no configured feed is named 'Le Mondd'"]


def test_an_alias_bomb_in_a_rule_file_is_one_line(tmp_path: Path) -> None:
    from tests.hostile import billion_laughs

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bomb.yaml").write_text(billion_laughs())
    config = tmp_path / "config.yaml"
    config.write_text("feeds: []\n")
    result = monitor("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'rules' / 'bomb.yaml'}:5: e[0]: too many aliases: they would "
        "copy more than 10,000 values (write the values out, or share fewer)",
        "1 problem(s) found"]
