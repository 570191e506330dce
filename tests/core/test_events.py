"""Events named in headlines and leads: the key two articles of one story share."""

import pytest

from monitor.core.events import event_keys


@pytest.mark.parametrize(("text", "keys"), [
    ("Sommet de l’IA : Emmanuel Macron annonce 109 milliards d’euros", {"sommet:ia"}),
    ("À la veille du sommet pour l’action sur l’IA, les start-up s’impatientent", {"sommet:ia"}),
    ("Le sommet international sur l’IA s’ouvre à Paris", {"sommet:ia"}),
    # a place names the summit too, and past it comes what the summit is about
    ("En marge du sommet de Paris sur l’intelligence artificielle",
     {"sommet:paris", "sommet:intelligent"}),
    # nouns of one kind name one event: the murder and the death of Louise
    ("Meurtre de Louise, 11 ans : ce que l’on sait", {"mort:louis"}),
    ("Mort de Louise en Essonne : la ville renforce la sécurité", {"mort:louis"}),
    ("Procès de l’attentat de la basilique de Nice", {"attentat:basil"}),
    ("Tempête Ciaran : des records de vent", {"meteo:ciaran", "kicker:ciaran tempet"}),
    ("D’importantes chutes de neige attendues sur le Massif central", {"meteo:neig"}),
    # the colour of a warning says nothing of what it warns about
    ("Vigilance orange neige-verglas dans quatre départements", {"meteo:neig"}),
    # an election's kind says what is voted on; where it is held says which election
    ("Élection présidentielle en Pologne : le candidat pro-européen en tête", {"vote:pologn"}),
    ("Élection présidentielle en Roumanie : un mathématicien l’emporte", {"vote:rouman"}),
    ("Élections législatives anticipées au Portugal", {"vote:portugal"}),
])
def test_an_event_noun_and_what_it_is_about(text: str, keys: set[str]) -> None:
    assert event_keys(text, "") == keys


@pytest.mark.parametrize("text", [
    "Rejet de la motion de censure : Éric Lombard salue le compromis",  # not past a colon
    "La motion de censure du gouvernement rejetée",  # too vague to tell which censure
    "Podcast, épisode 3 : la semaine en bref",  # a number says nothing of the event
    "Le gouvernement présente son plan",
    "L’élection présidentielle de 2027 dans toutes les têtes",  # which country's, it never says
    "Agressions sexuelles : une enquête ouverte",  # which assault, it does not say
    # a press conference is a format, not an event: every one of them is called so
    "Menaces dans les écoles : conférence de presse du procureur",
    "Conférence de presse de Volodymyr Zelensky à Kiev",
    # a festival runs for days and hosts many stories: each film is news of its own
    "Festival de Cannes : Wes Anderson et son casting entrent en scène",
    "Au salon de l’agriculture, les éleveurs attendent le ministre",
])
def test_no_event_where_nothing_tells_which(text: str) -> None:
    assert event_keys(text, "") == frozenset()


@pytest.mark.parametrize(("title", "keys"), [
    ("Super Bowl : Kendrick Lamar à l’honneur", {"kicker:bowl sup"}),
    ("PORTRAIT. Super Bowl 2025 : Patrick Mahomes", {"kicker:bowl sup"}),  # not the genre, year
    ("Neige-verglas : trois départements en vigilance orange", {"kicker:neig vergl"}),
    # a kicker of common words names a subject followed for months, not a story
    ("Intelligence artificielle : Mistral lance son assistant", set()),
    ("Guerre en Ukraine : Kiev demande des missiles", set()),
    ("Gaza : trois otages libérés", set()),  # one word
    ("Le président a annoncé samedi soir, dans un long discours : rien", set()),  # a sentence
])
def test_a_rare_kicker_names_its_story(title: str, keys: set[str]) -> None:
    assert event_keys(title, "") == keys


def test_a_place_then_a_verb() -> None:
    assert event_keys("Le sommet de Paris a commencé", "") == {"sommet:paris"}  # « a »: avoir
