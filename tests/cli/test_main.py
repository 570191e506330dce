"""The `monitor` command's contract: exit codes, one-line errors, config discovery."""

from pathlib import Path

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
        f"{rules}:4: rules[0].any: duplicate key (the earlier value would be ignored)",
        f"{rules}:6: rules[1].colour: unknown key",
        f"{rules}:7: rules[1].any[0].regex: invalid regular expression: missing ) at "
        "position 1",
        f"{rules}:8: rules[2]: a rule needs at least one term in 'all', 'any', 'near' or "
        "'entities'",
        "7 problem(s) found",
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
