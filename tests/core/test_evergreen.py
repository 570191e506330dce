"""Dossier, section and live pages are told from news by their address and headline."""

import pytest

from monitor.core.evergreen import BULLETIN, DOSSIER, LIVE, NEWS, kind

CASES = [
    ("https://www.bfmtv.com/paris/essonne/meurtre-de-louise-11-ans_DN-202502100481.html",
     "Meurtre de Louise, 11 ans", DOSSIER),
    ("https://www.bfmtv.com/tech/direct-sommet-de-l-ia_LN-202502100220.html",
     "Sommet de l'IA : les annonces", LIVE),
    ("https://www.bfmtv.com/paris/meurtre-de-louise-l-arme-reste-introuvable_AN-202502100318.html",
     "Meurtre de Louise: l'arme du crime reste introuvable", NEWS),
    ("https://www.exemple.fr/international/", "International", DOSSIER),
    ("https://www.exemple.fr/", "Accueil", DOSSIER),
    ("https://www.exemple.fr/dossier/guerre-en-ukraine", "Guerre en Ukraine", DOSSIER),
    ("https://www.exemple.fr/tag/donald-trump/", "Donald Trump", DOSSIER),
    ("https://www.exemple.fr/live/2025/02/10/sommet-ia", "Le sommet de l'IA", LIVE),
    ("https://www.exemple.fr/monde/trump-annonce-des-droits-de-douane", "Trump et l'acier", NEWS),
    ("https://www.exemple.fr/societe/article-20250210", "Une collégienne", NEWS),
    ("http://127.0.0.1:8000/articles/tempete.html", "Tempête", NEWS),
    ("https://www.exemple.fr/a/b", "DIRECT. Sommet de l'IA : Macron ouvre la journée", LIVE),
    ("https://www.exemple.fr/a/b-c-d-e", "EN DIRECT - Guerre en Ukraine", LIVE),
    ("https://www.exemple.fr/a/b-c-d-e", "🔴 Guerre en Ukraine : les négociations", LIVE),
    ("https://www.exemple.fr/en-direct-election-presidence-du-parti-20250518", "Élection", LIVE),
    ("https://www.exemple.fr/politique/direct-presidence-du-parti-le-resultat.php", "Parti", LIVE),
    ("https://www.exemple.fr/monde/elections-en-europe-suivez-notre-direct-U2FB/", "Votes", LIVE),
    ("https://www.exemple.fr/religion/messe-du-pape-heure-live-pontifical-20250518", "Messe", LIVE),
    ("https://www.exemple.fr/eco/direction-generale-des-impots-nouveau-chef", "Impôts", NEWS),
    ("https://www.exemple.fr/culture/olivier-en-concert-a-paris", "Concert", NEWS),
    (None, "Une dépêche sans lien", NEWS),
]


@pytest.mark.parametrize(("url", "title", "expected"), CASES)
def test_kind(url: str | None, title: str, expected: str) -> None:
    assert kind(url, title) == expected


@pytest.mark.parametrize(("title", "summary", "expected"), [
    ("JT du Sud du samedi 8 février", "Retrouvez votre JT du Sud sur BFM Var.", BULLETIN),
    ("Journal de 20h du 8 février", "", BULLETIN),
    ("Le PS souhaite défendre une France métissée",
     "LE POINT DE MIDI - Retrouvez l’essentiel de l’actualité parue ce lundi.", BULLETIN),
    ("PODCAST. Sommet de l'IA, une nouvelle star de la voile et 24h de course", "", BULLETIN),
    ("PODCAST. Meurtre de Louise : la traque du suspect", "", NEWS),  # one story
    ("Le journal de Mickey fête ses 90 ans", "", NEWS),
    # the weather of the day, not the snow episode it mentions
    ("Un ciel très nuageux ce samedi avec de la neige sur le sud du Massif central",
     "Les températures seront comprises entre 4°C et 15°C ce samedi 8 février.", BULLETIN),
    ("De grosses chutes de neige attendues ce samedi sur le sud du Massif central",
     "Une goutte froide provoque des pluies intenses sur le Var.", NEWS),
])
def test_bulletins_going_over_several_stories(title: str, summary: str, expected: str) -> None:
    assert kind("https://www.exemple.fr/a/b-c-d-e", title, summary) == expected


def test_a_directory_named_like_a_headline_is_news() -> None:
    assert kind("https://www.exemple.fr/les-etats-unis-livrent-des-missiles-a-kiev/",
                "Les États-Unis livrent des missiles à Kiev") == NEWS
