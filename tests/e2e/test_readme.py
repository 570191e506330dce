"""The README says what the program does: its commands exist, its examples run and print what
they show (the same lines, or lines of the same shape where the figures are a day's)."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.cli.parser import build_parser
from tests.cli.commands import leaf_commands
from tests.e2e.helpers import PROJECT, monitor, write_config
from tests.servers import FIXTURES, Route, Site

README = (PROJECT / "README.md").read_text(encoding="utf-8")
RULES_README = (PROJECT / "rules" / "README.md").read_text(encoding="utf-8")


def _blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of `language` ("" for plain ones), in order."""
    found, current, kind = [], [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if kind is None:
                kind, current = line[3:].strip(), []
            else:
                if kind == language:
                    found.append("".join(current))
                kind = None
        elif kind is not None:
            current.append(line)
    return found


def test_the_two_commands_are_in_the_readme_and_ci_runs_the_second() -> None:
    assert _blocks(README, "sh")[:2] == ["pip install . && monitor run\n",
                                         "pip install '.[test]' && python -m pytest\n"]
    assert "pip install '.[test]' && python -m pytest\n" in (PROJECT / ".ci" / "run").read_text()


def test_the_commands_table_lists_every_command_and_only_those() -> None:
    table = re.search(r"## Commands\n\n(.*?)\n\n", README, re.S)
    assert table is not None
    listed = set()
    for row in table.group(1).splitlines()[2:]:
        words = re.match(r"\| `monitor ([a-z -]+)", row)
        assert words, row
        listed.add(" ".join(word for word in words.group(1).split()
                            if word.islower() and not word.startswith("-")))
    assert listed == set(leaf_commands(build_parser()))


def test_rules_test_prints_what_the_rules_readme_shows() -> None:
    block = next(b for b in _blocks(RULES_README, "console") if "rules test --text" in b)
    command, *shown = block.split("$ ")[1].rstrip("\n").splitlines()
    text = re.search(r'--text "(.*)"', command)
    assert text is not None
    result = monitor("rules", "test", "--text", text.group(1))
    assert result.returncode == 0, result.stderr  # "exits 0 when a rule matched"
    assert result.stdout.splitlines() == shown
    none = monitor("rules", "test", "--text", "Rien à signaler")
    assert none.returncode == 1  # "and 1 when none did"


def _shape(line: str) -> re.Pattern[str]:
    """A README line with its figures, names and times made variable."""
    pattern = re.escape(line)
    pattern = re.sub(r"'[^']*'", "'[^']+'", pattern)  # names in quotes
    pattern = re.sub(r"\d\d:\d\d", r"(\\d\\d/\\d\\d )?\\d\\d:\\d\\d", pattern)
    pattern = re.sub(r"(?<![\\\d])\d+", r"\\d+", pattern)
    pattern = re.sub(r"\\\(hook:.*\\\)$", r"\\(.*\\)", pattern)  # the held channels, listed
    return re.compile(pattern + "$")


def test_once_prints_lines_of_the_shape_the_readme_shows(tmp_path: Path, site: Site) -> None:
    example = next(b for b in _blocks(README, "") if "monitor: polled" in b).splitlines()
    failed, _malformed, summary = example
    feed = (FIXTURES / "feeds" / "lemonde-international.xml").read_bytes()
    site.routes["/feed.xml"] = Route(feed.replace(b"{{BASE}}", site.base.encode()))
    site.routes["/down.xml"] = Route(b"", status=500)
    config = write_config(
        tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")},
                   {"name": "Ouest-France", "url": site.url("/down.xml")}],
        {"hook": {"urls": [f"json://{site.base.split('//')[1]}/hook"], "digest": {"every": "1h"}}},
        ["hook"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0)
    result = monitor("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert _shape(failed).match(lines[0]), (failed, lines[0])
    assert _shape(summary).match(lines[-1]), (summary, lines[-1])
