"""Entity rules with the real French model (installed with monitor)."""

from pathlib import Path

from monitor.core import entities
from monitor.core.models import Article
from monitor.core.rulefiles import load


def rules_from(tmp_path: Path, text: str):
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    return load([tmp_path], ["console"], ["console"])


def matched(rules, text: str) -> list[str]:
    item = Article("https://x.fr/a", "", "", text, None, "Le Monde", "page")
    return [m.rule for m in rules.match(item, entities.recognise)]


def test_the_model_is_installed_and_labels_people_and_places() -> None:
    assert entities.available()
    text = "Le président Volodymyr Zelensky rencontre Viktor Orban à Budapest"
    spans = {text[s:e]: label for s, e, label in entities.recognise({"text": text})["text"]}
    assert spans["Volodymyr Zelensky"] == "PER" and spans["Budapest"] == "LOC"


def test_a_typographic_apostrophe_is_no_part_of_a_name() -> None:
    text = "Tesla n’a pas livré ses voitures à Berlin, dit l’OTAN"
    found = entities.recognise({"text": text, "title": "Disney n’est plus à Paris"})
    assert [text[s:e] for s, e, _ in found["text"]][:2] == ["Tesla", "Berlin"]
    assert "Paris" in ["Disney n’est plus à Paris"[s:e] for s, e, _ in found["title"]]


def test_person_in_a_place(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
rules:
  - name: zelensky-budapest
    entities: {PER: [Zelensky, Zelenski, Zelenskyy], LOC: [Budapest]}
""")
    assert matched(rules, "Le président Volodymyr Zelensky rencontre Viktor Orban à Budapest") == \
        ["zelensky-budapest"]
    assert matched(rules, "Volodymyr Zelenski est attendu mardi à Budapest.") == \
        ["zelensky-budapest"]  # an alias
    assert matched(rules, "Volodymyr Zelensky est attendu mardi à Vienne.") == []


def test_the_kind_of_entity_matters(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
rules:
  - name: operateur
    entities: {ORG: [Orange]}
  - name: otan
    any: [{entity: ORG, names: [OTAN, NATO]}]
  - name: zelensky-lieu
    entities: {LOC: [Zelensky]}
""")
    assert matched(rules, "Il a mangé une orange.") == []  # the fruit is no organisation
    assert matched(rules, "Le sommet de l’OTAN se tiendra à La Haye.") == ["otan"]
    assert matched(rules, "Le président Volodymyr Zelensky est à Kiev.") == []  # a person
