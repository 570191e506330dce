from pathlib import Path

import pytest

from monitor.errors import InvalidInput
from monitor.yamlsource import dotted, load


def test_lines_of_nested_values(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("rules:\n  - name: a\n    any:\n      - x\n      - y\n")
    source = load(path)
    assert source.data == {"rules": [{"name": "a", "any": ["x", "y"]}]}
    assert source.line_of(("rules", 0, "any", 1)) == 5
    assert source.line_of(("rules", 0, "missing", 3)) == 2  # nearest written ancestor


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(InvalidInput) as error:
        load(path)
    assert [str(p) for p in error.value.problems] == \
        [f"{path}:3: a: duplicate key (the earlier value would be ignored)"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load(tmp_path / "missing.yaml")


def test_dotted() -> None:
    assert dotted(("rules", 3, "any", 1)) == "rules[3].any[1]"
    assert dotted(()) == ""


def test_yaml_1_1_booleans_stay_words(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: on\nb: NO\nc: true\nd: False\n")
    assert load(path).data == {"a": "on", "b": "NO", "c": True, "d": False}
