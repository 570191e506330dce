"""Story assignment on French wire copies, rewrites and different stories about the same people."""

from monitor.dedup import (
    Candidate,
    assign,
    fingerprint,
    same_story,
    similar_titles,
    text_containment,
    title_words,
)
from monitor.models import Article

WIRE = (
    "Les États-Unis ont autorisé, lundi 24 novembre, la livraison de missiles de croisière "
    "Tomahawk à l’Ukraine, a annoncé le Pentagone dans un communiqué, mettant fin à plusieurs "
    "mois d’hésitations au sein de l’administration américaine. Ces missiles, d’une portée de plus "
    "de 1 600 kilomètres, permettraient aux forces ukrainiennes de frapper des cibles situées "
    "profondément à l’intérieur du territoire russe. « Cette décision répond à une demande "
    "constante de nos partenaires ukrainiens », a déclaré le porte-parole du ministère de la "
    "défense, précisant que les premières livraisons interviendraient dans les prochaines semaines."
)
OTHER = (
    "Le président ukrainien Volodymyr Zelensky a rencontré mardi à Budapest le premier ministre "
    "hongrois, Viktor Orban, pour discuter de l’approvisionnement en gaz de l’Europe centrale cet "
    "hiver. Les deux dirigeants ne sont pas parvenus à un accord sur le transit par l’Ukraine, "
    "Budapest réclamant des garanties sur les volumes livrés et sur les prix pratiqués par Kiev."
)


HOUR = 3600.0
WINDOW = 72 * HOUR


def page(title: str, text: str, outlet: str = "Le Monde") -> Article:
    return Article("https://x.fr/a", title, "", text, None, outlet, "page")


def feed_only(title: str, summary: str, outlet: str = "Libération") -> Article:
    return Article("https://x.fr/b", title, summary, summary, None, outlet, "feed")


def fp(article: Article, at: float = 0.0):
    return fingerprint(article, at)


def test_syndicated_copy_is_the_same_text() -> None:
    a = fp(page("Washington autorise les Tomahawk", WIRE))
    b = fp(page("Missiles : feu vert américain", WIRE, "franceinfo"))
    assert same_story(a, b) == ("same-text", 1.0)


def test_trimmed_and_edited_copy_is_a_near_copy() -> None:
    edited = WIRE.replace("lundi 24 novembre", "ce lundi").rsplit("« Cette", 1)[0]
    a = fp(page("Washington autorise les Tomahawk", WIRE))
    b = fp(page("Feu vert pour Kiev", edited + " Un ajout propre au site."))
    assert text_containment(a, b) > 0.6
    reason, score = same_story(a, b)
    assert reason == "near-copy" and score > 0.6


def test_rewritten_headline_of_the_same_dispatch_joins_by_title() -> None:
    a = fp(feed_only("Washington autorise la livraison de missiles Tomahawk à l’Ukraine",
                              "Le Pentagone a donné son feu vert."))
    b = fp(feed_only("Missiles Tomahawk : Washington autorise leur livraison à l'Ukraine",
                              "Kiev réclamait ces armes depuis l’été."))
    assert same_story(a, b) == ("similar-title", 1.0)


def test_different_stories_about_the_same_people_stay_apart() -> None:
    a = fp(page("Zelensky rencontre Orban à Budapest sur le gaz", OTHER))
    b = fp(page("Zelensky salue la livraison de missiles Tomahawk", WIRE))
    assert same_story(a, b) is None


def test_assign_takes_the_best_story_or_makes_a_new_one() -> None:
    wire = fp(page("Washington autorise les Tomahawk", WIRE))
    other = fp(page("Zelensky à Budapest", OTHER))
    assert assign(wire, [], WINDOW).story_id is None
    assert assign(wire, [Candidate(1, other, True)], WINDOW).reason == "new"
    chosen = assign(wire, [Candidate(1, other, True),
                           Candidate(2, fp(page("Copie", WIRE)), False)], WINDOW)
    assert (chosen.story_id, chosen.reason) == (2, "same-text")


def test_only_articles_published_within_the_window_join() -> None:
    first = fp(page("Washington autorise les Tomahawk", WIRE), at=0.0)
    later = fp(page("Washington autorise les Tomahawk", WIRE), at=WINDOW + HOUR)
    assert assign(later, [Candidate(1, first, True)], WINDOW).story_id is None
    soon = fp(page("Washington autorise les Tomahawk", WIRE), at=WINDOW - HOUR)
    assert assign(soon, [Candidate(1, first, True)], WINDOW).story_id == 1


def test_a_title_joins_through_the_story_seed_only() -> None:
    seed = fp(feed_only("Meurtre de Louise, 11 ans, à Épinay-sur-Orge", "Une enquête ouverte."))
    follow = fp(feed_only("Meurtre de Louise, 11 ans : la famille sous le choc", "Hommage."))
    assert assign(follow, [Candidate(1, seed, True)], WINDOW).reason == "similar-title"
    assert assign(follow, [Candidate(1, seed, False)], WINDOW).story_id is None


def test_titles_with_different_numbers_are_different_stories() -> None:
    a = fp(feed_only("JT du Sud du dimanche 9 février", "Le journal."))
    b = fp(feed_only("JT du Sud du samedi 8 février", "Le journal."))
    assert similar_titles(a, b) is None
    c = fp(feed_only("Giant Bombcast 07/19/2016", "Podcast."))
    d = fp(feed_only("Giant Bombcast 07/12/2016", "Podcast."))
    assert similar_titles(c, d) is None


def test_titles_sharing_only_outlet_boilerplate_are_different_stories() -> None:
    a = fp(feed_only("Eure-et-Loir : neige à Dreux - Témoins BFMTV", "Vidéo."))
    b = fp(feed_only("Haut-Rhin: neige à Wittenheim - Témoins BFMTV", "Vidéo."))
    assert similar_titles(a, b) is None


def test_short_texts_have_no_text_fingerprint() -> None:
    short = fp(feed_only("Titre", "Deux mots."))
    assert short.minhash is None and short.text_hash is None
    assert text_containment(short, short) == 0.0


def test_title_words_ignore_function_words_and_accents() -> None:
    assert title_words("Le Sénat adopte la partie « recettes » du budget") == \
        {"senat", "adopte", "partie", "recettes", "budget"}
