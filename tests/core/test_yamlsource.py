from pathlib import Path

import pytest
import yaml

from monitor.core import yamlsource
from monitor.core.errors import InvalidInput
from monitor.core.yamlsource import dotted, load
from tests.hostile import billion_laughs

PARSERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])


@pytest.fixture(autouse=True, params=PARSERS, ids=lambda parser: parser.__name__)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml's parser is used when PyYAML has it, the pure-Python one otherwise: both must
    give the same values, lines and refusals."""
    monkeypatch.setattr(yamlsource, "_Loader", request.param)


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
    assert [str(p) for p in load(path).problems] == \
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


def test_unsafe_tags_and_merge_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: !!python/object/apply:os.system ['true']\nb: &x {c: 1}\nd:\n  <<: *x\n"
                    "e:\n  !!python/name:os.system : 1\n  [f, g]: 2\n")
    source = load(path)  # read on, to report every problem; no object is ever built
    assert source.data["a"] is None
    assert [str(p) for p in source.problems] == [
        f"{path}:1: a: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system",
        f"{path}:4: d: YAML merge keys (<<) are not supported",
        f"{path}:6: e: a key must be a plain word or number",
        f"{path}:7: e: a key must be a plain word or number"]


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: [x, y\nc: 2\n")
    with pytest.raises(InvalidInput) as error:
        load(path)
    [problem] = error.value.problems
    assert str(problem).startswith(f"{path}:3: invalid YAML: ")


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    """Once 2.5 GB and 19 s for `monitor check`, and the daemon killed from the tester."""
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    with pytest.raises(InvalidInput) as refused:
        load(path)
    (problem,) = refused.value.problems
    assert str(problem).startswith(f"{path}:5: e[0]: ")  # the alias that goes over
    assert "too many aliases: they would copy more than 10,000 values" in str(problem)


def test_a_few_shared_lists_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("kiev: &kiev [Kiev, Kyiv]\nrules:\n" + "".join(
        f"  - {{name: r{n}, any: *kiev}}\n" for n in range(500)))
    assert load(path).data["rules"][499] == {"name": "r499", "any": ["Kiev", "Kyiv"]}


def test_a_file_too_large_is_refused_unread(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "MAX_BYTES", 1024)
    path = tmp_path / "big.yaml"
    path.write_text("rules: []\n" + "# …\n" * 500)
    with pytest.raises(InvalidInput, match="too large: more than"):
        load(path)


def test_a_list_inside_itself_is_refused_not_followed_for_ever(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(InvalidInput, match="too many aliases"):
        load(path)
