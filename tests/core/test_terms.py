"""Weighted terms: French stems, rarity weights, cosine, and a choice that never depends on order."""

import math

from monitor.core.terms import cosine, term, top_terms, vector, words


def test_stems_join_inflections_and_accents_fold_after_stemming() -> None:
    assert term("présidente")[0] == term("présidents")[0] == term("Président")[0]
    assert term("collégiennes")[0] == term("collégienne")[0]


def test_common_words_are_left_out_and_rare_ones_weigh_more() -> None:
    assert term("faire") is None and term("le") is None
    assert term("Épinay")[1] > term("sommet")[1] > term("gouvernement")[1]
    assert term("109") is not None and term("9") is None  # one digit says nothing


def test_elided_articles_are_dropped() -> None:
    assert words("l’Ukraine qu'il aujourd’hui") == ["Ukraine", "il", "aujourd", "hui"]


def test_a_vector_has_unit_length_and_the_headline_weighs_more() -> None:
    v = vector("Sommet de l’IA à Paris", "Les dirigeants arrivent au Grand Palais.")
    assert math.isclose(math.sqrt(sum(w * w for w in v.values())), 1.0, abs_tol=1e-3)
    assert v[term("sommet")[0]] > v[term("dirigeants")[0]]
    assert vector("", "") == {}


def test_cosine_of_rewrites_is_high_and_of_other_stories_low() -> None:
    a = vector("Meurtre de Louise : la garde à vue du couple levée",
               "Le couple suspecté a été relâché dimanche soir en Essonne.")
    b = vector("Meurtre de Louise, 11 ans : le couple suspecté relâché",
               "La garde à vue a été levée, l’enquête continue à Épinay-sur-Orge.")
    c = vector("Sommet de l’IA : 109 milliards d’euros d’investissements",
               "Emmanuel Macron a annoncé des investissements dans les centres de données.")
    assert cosine(a, b) > 0.5 > 0.05 > cosine(a, c)
    assert cosine(a, b) == cosine(b, a)


def test_top_terms_break_ties_by_the_term_itself() -> None:
    assert top_terms({"b": 0.5, "a": 0.5, "c": 0.7}, 2) == ("c", "a")
