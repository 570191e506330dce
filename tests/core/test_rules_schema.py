"""rules/schema.json agrees with the loader: shipped files pass both, mistakes fail both."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from monitor.core.errors import InvalidInput
from monitor.core.rulefiles import load

RULES = Path(__file__).resolve().parents[2] / "rules"
SCHEMA = json.loads((RULES / "schema.json").read_text())
SHIPPED = sorted(RULES.glob("*.yaml"))


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_rule_files_pass_the_schema_and_the_loader(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    assert len(load([path], None, ["console"])) >= 1


GOOD = [
    {"name": "a", "any": "désescalade"},
    {"name": "a", "all": [2019, {"phrase": "x y"}, {"term": "x", "plural": True, "min_count": 2}]},
    {"name": "a", "any": [{"regex": "a+b"}, {"near": {"terms": ["a", "b"], "within": 3}}]},
    {"name": "a", "near": {"terms": ["a", "b"], "within": 3}},
    {"name": "a", "any": [{"all": ["a", {"any": ["b", "c"]}]}], "none": [{"none": ["d"]}]},
    {"name": "a", "entities": {"PER": ["Zelensky"]}, "priority": "high", "feeds": "Le Monde"},
    {"name": "a", "any": "x", "spread": {"outlets": 3, "within": "2h"}},
]
BAD = [
    {"name": "a"},  # no term
    {"name": "a", "any": ["x"], "colour": "red"},
    {"name": "a", "any": [{"regexp": "x"}]},
    {"name": "a", "any": [{"phrase": "x", "plural": True}]},
    {"name": "a", "any": [{"near": {"terms": ["a"], "within": 3}}]},
    {"name": "a", "any": [{"near": {"terms": ["a", "b"], "within": 0}}]},
    {"name": "a", "any": ["x"], "fields": ["body"]},
    {"name": "a", "any": ["x"], "priority": "urgent"},
    {"name": "a", "entities": {"PLANET": ["Mars"]}},
    {"name": "a", "any": [{"term": "x", "min_count": 0}]},
    {"name": "a", "any": "x", "spread": {"outlets": 1, "within": "2h"}},
    {"name": "a", "any": "x", "spread": {"outlets": 3, "within": "deux heures"}},
    {"name": "a", "any": "x", "spread": {"outlets": 3}},
]


@pytest.mark.parametrize("rule", GOOD)
def test_good_rules_pass_both(tmp_path: Path, rule: dict) -> None:
    jsonschema.validate({"rules": [rule]}, SCHEMA)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True))
    assert len(load([tmp_path], None, ["console"])) == 1


@pytest.mark.parametrize("rule", BAD)
def test_bad_rules_fail_both(tmp_path: Path, rule: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"rules": [rule]}, SCHEMA)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True))
    with pytest.raises(InvalidInput):
        load([tmp_path], None, ["console"])
