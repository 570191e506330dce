import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.text import fold, fold_term, snippet


@pytest.mark.parametrize(("text", "folded"), [
    ("UKRAINE", "ukraine"),
    ("désescalade", "desescalade"),
    ("l’Ukraine", "ukraine"),
    ("l'Ukraine", "ukraine"),
    ("d'Ukraine et d’Europe", "ukraine et europe"),
    ("qu’il", "il"),
    ("jusqu’à Kiev", "a kiev"),
    ("lorsqu’elle", "elle"),
    ("puisqu'on", "on"),
    ("c'est", "est"),
    ("n’a", "a"),
    ("s’est", "est"),
    ("j’ai", "ai"),
    ("Œuvre du cœur", "oeuvre du coeur"),
    ("ex æquo", "ex aequo"),
    ("Jean-Yves Le Drian", "jean yves le drian"),
    ("« Tomahawk » !", "tomahawk"),
    ("ÉLECTION présidentielle", "election presidentielle"),
    ("ﬁnances", "finances"),  # the ﬁ ligature
    ("1 600 km", "1 600 km"),
    ("aujourd’hui", "aujourd hui"),
])
def test_fold_french(text: str, folded: str) -> None:
    assert fold(text).text == folded


def test_apostrophe_at_the_end_is_not_an_elision() -> None:
    assert fold("l' ").text == "l"
    assert fold("rock'n'roll").text == "rock roll"  # consistent on both sides, which is what matters


def test_original_span_points_back_at_the_words_written() -> None:
    text = "Des missiles livrés à l’Ukraine par Jean-Yves"
    folded = fold(text)
    start = folded.text.index("ukraine")
    a, b = folded.original_span(start, start + len("ukraine"))
    assert text[a:b] == "Ukraine"
    start = folded.text.index("jean yves")
    a, b = folded.original_span(start, start + len("jean yves"))
    assert text[a:b] == "Jean-Yves"
    start = folded.text.index("livres")
    a, b = folded.original_span(start, start + len("livres a ukraine"))
    assert text[a:b] == "livrés à l’Ukraine"


def test_fold_term_of_punctuation_is_empty() -> None:
    assert fold_term("!!") == ""
    assert fold_term("  Jeu  Vidéo ") == "jeu video"


def test_snippet_marks_every_span_in_the_window() -> None:
    text = "Avant. " * 40 + "Les missiles Tomahawk iront à l’Ukraine." + " Après." * 40
    start = text.index("Tomahawk")
    ukraine = text.index("Ukraine")
    out = snippet(text, [(start, start + 8), (ukraine, ukraine + 7)], width=80)
    assert "**Tomahawk**" in out and "**Ukraine**" in out
    assert out.startswith("… ") and out.endswith(" …")
    assert len(out) < 140


def test_snippet_without_spans_is_the_beginning() -> None:
    assert snippet("Un texte   court", []) == "Un texte court"


def test_snippet_cuts_between_words_and_at_a_sentence_end_when_one_is_near() -> None:
    """It once ended « … Ces mi … »."""
    text = ("Les missiles Tomahawk partent lundi vers Kiev, annonce Washington. "
            "Ces missiles de croisière portent à mille six cents kilomètres environ.")
    start = text.index("Tomahawk")
    out = snippet(text, [(start, start + 8)], width=110)
    assert out == "Les missiles **Tomahawk** partent lundi vers Kiev, annonce Washington. …"
    for width in range(20, 140, 7):  # wherever the window falls, no word is cut
        words = set(text.replace(".", " ").replace(",", " ").split())
        shown = snippet(text, [(start, start + 8)], width=width).replace("*", "")
        assert set(shown.strip("… ").replace(".", " ").replace(",", " ").split()) <= words


def test_a_headline_line_does_not_run_into_the_text() -> None:
    text = "Proche-Orient : l'ONU appelle à la désescalade\nLe secrétaire général a parlé."
    assert snippet(text, []) == ("Proche-Orient : l'ONU appelle à la désescalade — Le "
                                 "secrétaire général a parlé.")
    assert snippet("Fin de phrase.\nSuite.", []) == "Fin de phrase. Suite."


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aeÉé lL'’_-dqu½ﬁŒœ2 \n.") + [
    "ǅ", "㎏", "ﬀ", "\u0301", "\u037a", "\ufc5e", "\uff9e"]),  # these fold to 2 words, or none
               max_size=40))
def test_the_way_back_agrees_with_the_folded_text(text: str) -> None:
    folded = fold(text)
    tokens = folded.text.split()
    assert len(folded.starts) == len(folded.spans) == len(tokens)
    for index, start in enumerate(folded.starts):
        assert folded.text[start:].split(" ", 1)[0] == tokens[index]
        first, last = folded.spans[index]
        assert fold(text[first:last]).text.split()[:1] != []  # a span holds a written word
