from datetime import UTC, datetime

from monitor.core.extract import extract
from monitor.core.models import Entry
from tests.servers import FIXTURES

ENTRY = Entry("https://www.lemonde.fr/rss.xml", None,
              "https://www.lemonde.fr/international/article/tomahawk.html",
              "Washington autorise la livraison de missiles Tomahawk à l’Ukraine",
              "Les États-Unis ont donné leur feu vert.",
              datetime(2025, 11, 24, 8, 12, tzinfo=UTC))


def page(name: str) -> bytes:
    return (FIXTURES / "pages" / name).read_bytes()


def test_main_text_without_page_furniture() -> None:
    article = extract(ENTRY, page("lemonde-tomahawk.html"), "Le Monde")
    assert article.source == "page"
    assert article.text.startswith("Les États-Unis ont autorisé, lundi 24 novembre")
    assert "compliquant l’approvisionnement de ses troupes" in article.text
    for junk in ("cookies", "Laisser un commentaire", "Publier le commentaire", "Jean-Pierre 75",
                 "Trop tard comme toujours", "Partager sur Facebook", "S’abonner",
                 "Mentions légales"):
        assert junk not in article.text, junk


def test_metadata_from_the_page_and_time_from_the_feed() -> None:
    article = extract(ENTRY, page("lemonde-tomahawk.html"), "Le Monde")
    assert article.canonical_url == ("https://www.lemonde.fr/international/article/2025/11/24/"
                                     "washington-autorise-la-livraison-de-missiles-tomahawk-a-l-"
                                     "ukraine_6650001_3210.html")
    assert article.author == "Le Monde avec AFP"
    assert article.published == ENTRY.published  # trafilatura's date has no time of day
    assert article.title == ENTRY.title and article.outlet == "Le Monde"


def test_falls_back_to_the_feed_without_a_page() -> None:
    article = extract(ENTRY, None, "Le Monde")
    assert (article.source, article.text) == ("feed", ENTRY.summary)


def test_falls_back_to_the_feed_when_the_page_says_nothing() -> None:
    for html in (b"<html><body><p>Abonnez-vous pour lire la suite.</p></body></html>",
                 b"\x00\xff not html at all", b"<html>"):
        assert extract(ENTRY, html, "Le Monde").source == "feed"


def test_language_hint_for_trafilatura() -> None:
    """The page's language (else the feed's) reaches trafilatura only when the page does not
    contradict it: trafilatura refuses a page whose meta tags name another language."""
    import trafilatura

    from monitor.core.extract import _known_language

    def hint(html: str, feed_language: str | None = None) -> str | None:
        tree = trafilatura.load_html(html.encode())
        return _known_language(tree, tree.get("lang") or feed_language)

    body = "<body><p>Texte.</p></body></html>"
    assert hint(f"<html lang='fr-FR'>{body}") == "fr"
    assert hint(f"<html>{body}", feed_language="fr") == "fr"
    assert hint(f"<html>{body}") is None
    assert hint(f"<html lang='zz'>{body}") is None  # no such language
    assert hint("<html lang='fr'><head><meta property='og:locale' content='en_US'></head>"
                f"{body}") is None


def test_boxes_captions_and_reading_links_around_the_text_are_left_out() -> None:
    entry = Entry("https://revue-presse.example/rss", None,
                  "https://revue-presse.example/monde/chili-cuivre-santa-rosa", "Au Chili", "",
                  None)
    article = extract(entry, page("revue-presse-source.html"), "Revue de presse")
    assert article.source == "page"
    assert "À quatre heures du matin" in article.text and "un dialogue sans exclusive" in article.text
    for furniture in ("Source de l’article", "Donald Trump", "El Diario del Norte", "Lire aussi",
                      "ruée vers le lithium", "Passer la publicité", "Photo Ana Pérez"):
        assert furniture not in article.text, furniture
