from pathlib import Path

import pytest

from monitor.errors import InvalidInput
from monitor.models import Article
from monitor.rules import load

CHANNELS = ["console", "ops", "mail"]


def ruleset(tmp_path: Path, text: str, name: str = "rules.yaml"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return load([tmp_path], CHANNELS, ["console"])


def article(title: str = "", summary: str = "", text: str = "", source: str = "page") -> Article:
    return Article("https://x.fr/a", title, summary, text, None, "Le Monde", source)


def matched(rules, item: Article) -> list[str]:
    return [m.rule for m in rules.match(item)]


TOMAHAWK = """
rules:
  - name: tomahawk-ukraine
    all: [tomahawk]
    any: [ukraine, missile]
    none: ["jeu vidéo"]
    notify: [ops]
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("Des missiles Tomahawk pour l’Ukraine", True),
    ("TOMAHAWK : Washington dit oui à Kiev, un missile de plus", True),
    ("Le Tomahawk, côte de bœuf star des barbecues", False),  # `any` unmet
    ("Tomahawk en Ukraine : le jeu vidéo qui fâche", False),  # `none` hit
    ("Tomahawk en Ukraine : le jeu-vidéo qui fâche", False),  # hyphen variant of the phrase
    ("L'Ukraine attend des missiles", False),  # `all` unmet
])
def test_all_any_none(tmp_path: Path, text: str, expected: bool) -> None:
    rules = ruleset(tmp_path, TOMAHAWK)
    assert (matched(rules, article(text=text)) == ["tomahawk-ukraine"]) is expected


@pytest.mark.parametrize(("term", "text"), [
    ("desescalade", "L’ONU appelle à la désescalade"),
    ("Désescalade", "appel à la DESESCALADE"),
    ("ukraine", "d’Ukraine"),
    ("ukraine", "l'Ukraine"),
    ("l'Ukraine", "la guerre en Ukraine"),  # the elision in the term is folded too
    ("cœur", "au coeur du conflit"),
    ("Jean-Yves Le Drian", "Jean Yves Le Drian a dit"),
    ("jeu vidéo", "un « jeu vidéo »"),
    ("5G", "le réseau 5G arrive"),
])
def test_folding_applies_to_terms_and_text(tmp_path: Path, term: str, text: str) -> None:
    rules = ruleset(tmp_path, f"rules:\n  - name: r\n    any: [{term!r}]\n")
    assert matched(rules, article(text=text)) == ["r"]


@pytest.mark.parametrize("text", ["l’élection présidentielle", "une sélection", "collection"])
def test_terms_match_whole_words_only(tmp_path: Path, text: str) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    any: [lection]\n")
    assert matched(rules, article(text=text)) == []


def test_phrases_match_as_a_sequence_of_words(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, 'rules:\n  - name: r\n    any: ["Assemblée nationale"]\n')
    assert matched(rules, article(text="à l’Assemblée  nationale, hier")) == ["r"]
    assert matched(rules, article(text="l’Assemblée a voté, la nationale 7 est fermée")) == []


def test_hits_explain_where_with_original_offsets(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, TOMAHAWK)
    item = article(title="Kiev attend", summary="Un missile Tomahawk ?",
                   text="Les missiles Tomahawk iront à l’Ukraine.")
    (match,) = rules.match(item)
    assert match.channels == ("ops",)
    by_term = {hit.term: hit for hit in match.hits}
    assert set(by_term) == {"tomahawk", "ukraine", "missile"}
    ukraine = by_term["ukraine"]
    assert ukraine.field == "text"
    assert item.text[ukraine.start:ukraine.end] == "Ukraine"
    assert by_term["missile"].field == "summary"


def test_fields_restrict_where_terms_count(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    any: [trêve]\n    fields: [title]\n")
    assert matched(rules, article(title="Une trêve à Gaza")) == ["r"]
    assert matched(rules, article(title="Gaza", text="Une trêve est annoncée")) == []


def test_feed_fallback_does_not_count_the_summary_twice(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    any: [trêve]\n    fields: [text]\n")
    item = article(summary="Une trêve", text="Une trêve", source="feed")
    assert matched(rules, item) == []


def test_default_channels_and_disabled_rules(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: on
    any: [a1]
  - name: off
    any: [a1]
    enabled: false
""")
    assert [(m.rule, m.channels) for m in rules.match(article(text="a1"))] == [("on", ("console",))]


def test_directory_of_files_and_lists_of_paths(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - {name: a, any: [alpha]}\n")
    (tmp_path / "b.yml").write_text("rules:\n  - {name: b, any: [beta]}\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    rules = load([tmp_path], CHANNELS, ["console"])
    assert matched(rules, article(text="alpha beta")) == ["a", "b"]
    rules = load([tmp_path / "b.yml"], CHANNELS, ["console"])
    assert matched(rules, article(text="alpha beta")) == ["b"]


def test_every_problem_in_every_file_with_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("""rules:
  - name: dup
    any: [x]
  - name: bad-key
    anyy: [x]
  - name: no-terms
    none: [x]
  - name: empty-term
    any: ["!!!", ok]
  - name: unknown-channel
    any: [x]
    notify: [ops, slack]
""")
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - name: dup\n    any: [y]\n  - name: where\n    any: [y]\n    fields: [body]\n")
    with pytest.raises(InvalidInput) as error:
        load([tmp_path, tmp_path / "missing.yaml"], CHANNELS, ["console"])
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    messages = [str(p) for p in error.value.problems]
    assert messages == [
        f"{a}:5: rules[1].anyy: unknown key",
        f"{a}:6: rules[2]: a rule needs at least one term in 'all' or 'any'",
        f"{a}:9: rules[3].any[0]: term '!!!' has no letters or digits",
        f"{a}:12: rules[4].notify[1]: unknown channel 'slack' (see notify.channels)",
        f"{b}:2: rules[0].name: rule 'dup' is already defined at {a}:2",
        f"{b}:6: rules[1].fields[0]: Input should be 'title', 'summary' or 'text'",
        f"{tmp_path / 'missing.yaml'}: no such rule file or directory",
    ]


def test_a_file_that_is_not_a_rule_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InvalidInput, match="a rule file is a mapping with one key, 'rules'"):
        load([tmp_path], CHANNELS, ["console"])


def test_an_empty_rule_directory_is_valid(tmp_path: Path) -> None:
    rules = load([tmp_path], CHANNELS, ["console"])
    assert len(rules) == 0 and rules.match(article(text="anything")) == []


def test_ten_thousand_terms_compile_and_match_correctly(tmp_path: Path) -> None:
    lines = ["rules:"]
    for index in range(2000):
        terms = ", ".join(f"mot{index}x{k}" for k in range(5))
        lines.append(f"  - {{name: r{index}, any: [{terms}]}}")
    rules = ruleset(tmp_path, "\n".join(lines))
    assert sum(len(rule.any) for rule in rules.rules) == 10_000
    text = "Selon nos informations, mot17x3 et mot1999x0 ; mais pas mot5x (ni xmot6x1)."
    assert matched(rules, article(text=text)) == ["r17", "r1999"]
