"""Story assignment on French wire copies, rewrites and different stories about the same people."""

from monitor.dedup import (
    Candidate,
    StoryIndex,
    fingerprint,
    named_things,
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


def assign(article, candidates, window=WINDOW):
    return StoryIndex.of(window, candidates).assign(article)


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
    assert assign(wire, []).story_id is None
    assert assign(wire, [Candidate(1, other, True)]).reason == "new"
    chosen = assign(wire, [Candidate(1, other, True), Candidate(2, fp(page("Copie", WIRE)), False)])
    assert (chosen.story_id, chosen.reason) == (2, "same-text")


def test_only_articles_published_within_the_window_join() -> None:
    first = fp(page("Washington autorise les Tomahawk", WIRE), at=0.0)
    later = fp(page("Washington autorise les Tomahawk", WIRE), at=WINDOW + HOUR)
    assert assign(later, [Candidate(1, first, True)]).story_id is None
    soon = fp(page("Washington autorise les Tomahawk", WIRE), at=WINDOW - HOUR)
    assert assign(soon, [Candidate(1, first, True)]).story_id == 1


def test_a_title_joins_through_the_story_seed_only() -> None:
    seed = fp(feed_only("Meurtre de Louise, 11 ans, à Épinay-sur-Orge", "Une enquête ouverte."))
    follow = fp(feed_only("Meurtre de Louise, 11 ans : la famille sous le choc", "Hommage."))
    assert assign(follow, [Candidate(1, seed, True)]).reason == "similar-title"
    assert assign(follow, [Candidate(1, seed, False)]).story_id is None


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


def test_rewrites_join_by_shared_names_and_words() -> None:
    a = fp(feed_only("Spectaculaire vol de bijoux au Louvre, le musée fermé",
                     "Des malfaiteurs ont dérobé des joyaux de la galerie d’Apollon au Louvre "
                     "en passant par une fenêtre, avec un monte-charge."))
    b = fp(feed_only("Cambriolage au Louvre, ce que l’on sait",
                     "Joyaux de la galerie d’Apollon volés au Louvre : monte-charge, fenêtre "
                     "fracturée, fuite à scooter."))
    assert same_story(a, b)[0] == "same-names-and-words"
    strike = fp(feed_only("Le Louvre fermé par une grève des agents d’accueil",
                          "Les personnels du Louvre dénoncent le sous-effectif."))
    assert same_story(a, strike) is None  # one name in common is not a story


def test_named_things() -> None:
    assert named_things("Le président Volodymyr Zelensky à Budapest. Le 24 novembre, 1 600 km") == \
        {"volodymyr", "zelensky", "budapest", "24", "1600"}


def test_the_index_forgets_what_is_older_than_the_window() -> None:
    index = StoryIndex(WINDOW)
    index.add(1, fp(page("Washington autorise les Tomahawk", WIRE), at=0.0), True, now=0.0)
    index.add(2, fp(page("Zelensky à Budapest", OTHER), at=0.0), True, now=WINDOW)
    assert len(index) == 2
    index.add(3, fp(page("Autre chose", OTHER), at=0.0), True, now=3 * WINDOW)
    assert len(index) == 2  # the first, added more than two windows ago, is forgotten
    assert index.assign(fp(page("Copie", WIRE), at=0.0)).story_id is None


def test_forgetting_an_article_keeps_the_near_copies_that_share_its_buckets() -> None:
    index = StoryIndex(WINDOW)
    edited = WIRE.replace("lundi 24 novembre", "ce lundi")
    index.add(1, fp(page("Washington autorise les Tomahawk", WIRE)), True, now=0.0)
    index.add(2, fp(page("Les Tomahawk livrés", edited)), True, now=1.5 * WINDOW)
    index.add(3, fp(page("Zelensky à Budapest", OTHER)), True, now=2.5 * WINDOW)  # forgets 1
    assert len(index) == 2
    trimmed = WIRE.replace("dans un communiqué", "")
    assert index.assign(fp(page("Missiles pour Kiev", trimmed))).story_id == 2


def test_assignment_is_measured_on_the_labelled_set() -> None:
    """bench/data/stories.yaml: 45 groups of French articles (wire copies, rewrites, updates,
    hard negatives). Targets: pairwise precision ≥ 0.97, recall ≥ 0.9."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from stories_eval import evaluate, load

    items = load()
    assert len({item.group for item in items}) >= 40
    score = evaluate(items)
    assert score.precision >= 0.97, score.false_joins
    assert score.recall >= 0.9, score.missed
