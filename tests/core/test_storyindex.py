"""Stories as connected groups of linked articles: merges, the window, and order of arrival."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.dedup import evidence, fingerprint
from monitor.core.models import Article
from monitor.core.storyindex import Candidate, StoryIndex

HOUR = 3600.0
WINDOW = 72 * HOUR
START = datetime(2025, 2, 8, 9, 0, tzinfo=UTC)
WIRE = (
    "Les États-Unis ont autorisé, lundi 24 novembre, la livraison de missiles de croisière "
    "Tomahawk à l’Ukraine, a annoncé le Pentagone dans un communiqué, mettant fin à plusieurs "
    "mois d’hésitations au sein de l’administration américaine. Ces missiles, d’une portée de plus "
    "de 1 600 kilomètres, permettraient aux forces ukrainiennes de frapper des cibles situées "
    "profondément à l’intérieur du territoire russe."
)

# (story, hours after START, outlet, title, summary): written for these tests.
ITEMS = [
    ("louise", 0, "BFMTV", "Essonne : une collégienne de 11 ans retrouvée morte dans un bois",
     "Le corps de Louise a été découvert vendredi soir près d’Épinay-sur-Orge."),
    ("louise", 3, "Le Figaro", "Meurtre de Louise, 11 ans : ce que l’on sait de l’enquête",
     "La collégienne a été tuée de plusieurs coups de couteau dans un bois d’Épinay-sur-Orge."),
    ("louise", 20, "franceinfo", "Meurtre de Louise : la garde à vue du couple suspecté levée",
     "Le couple interpellé dans l’enquête sur la mort de la collégienne a été relâché."),
    ("louise", 26, "Libération", "Mort de Louise en Essonne : un homme de 23 ans en garde à vue",
     "Un suspect a été interpellé dans l’enquête sur le meurtre de la collégienne de 11 ans."),
    ("louise", 30, "BFMTV", "Meurtre de Louise : le suspect de 23 ans passe aux aveux",
     "L’homme placé en garde à vue a reconnu avoir tué la collégienne d’Épinay-sur-Orge."),
    ("sommet", 10, "BFMTV", "Sommet de l’IA : Emmanuel Macron annonce 109 milliards d’euros",
     "Le chef de l’État promet 109 milliards d’euros d’investissements dans l’intelligence "
     "artificielle avant le sommet de Paris."),
    ("sommet", 14, "Le Figaro", "Intelligence artificielle : 109 milliards d’euros pour la France",
     "Emmanuel Macron a chiffré les investissements annoncés avant le sommet mondial de l’IA."),
    ("sommet", 30, "franceinfo", "Sommet de l’IA : à quoi serviront les 109 milliards d’euros",
     "Data centers, calcul, formation : le détail des investissements dans l’intelligence "
     "artificielle annoncés par Emmanuel Macron pour le sommet."),
    ("basilique", 5, "franceinfo", "Procès de l’attentat de la basilique de Nice : l’accusé amnésique",
     "Brahim Aouissaoui comparaît devant la cour d’assises spéciale de Paris."),
    ("basilique", 9, "Libération", "Attentat de la basilique de Nice : ouverture du procès",
     "L’assaillant, Brahim Aouissaoui, assure avoir tout oublié de l’attaque."),
    ("lidl", 2, "BFMTV", "Toulon : les salariés de Lidl en grève",
     "Plusieurs magasins Lidl du Var étaient en grève ce vendredi pour les salaires."),
    ("essonne-autre", 4, "Le Parisien", "Essonne : un incendie détruit un entrepôt à Évry",
     "Les pompiers sont intervenus toute la nuit dans la zone industrielle."),
]


def article(hours: float, outlet: str, title: str, summary: str, url: str = "") -> Article:
    return Article(url or f"https://{outlet.lower().replace(' ', '')}.fr/{abs(hash(title))}", title,
                   summary, summary, START + timedelta(hours=hours), outlet, "feed")


def fp(a: Article):
    return fingerprint(a, a.published.timestamp())


def partition(order: list[int]) -> set[frozenset[int]]:
    """The stories of ITEMS arriving in `order`, as sets of item numbers."""
    index = StoryIndex(WINDOW)
    story_of: dict[int, int] = {}
    for number in order:
        _, hours, outlet, title, summary = ITEMS[number]
        found = fp(article(hours, outlet, title, summary))
        assignment = index.assign(found)
        story = assignment.story_id if assignment.story_id is not None else number
        index.merge(story, assignment.merged)
        index.add(story, found)
        story_of[number] = story
    groups: dict[int, set[int]] = {}
    for number, story in story_of.items():
        groups.setdefault(index.story(story), set()).add(number)
    return {frozenset(group) for group in groups.values()}


def test_the_fixture_stories_are_found() -> None:
    expected: dict[str, set[int]] = {}
    for number, item in enumerate(ITEMS):
        expected.setdefault(item[0], set()).add(number)
    assert partition(list(range(len(ITEMS)))) == {frozenset(g) for g in expected.values()}


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(ITEMS))))
def test_the_same_items_give_the_same_stories_in_any_order_of_arrival(order: list[int]) -> None:
    assert partition(list(order)) == partition(list(range(len(ITEMS))))


def test_an_article_that_bridges_two_stories_merges_them_into_the_older() -> None:
    index = StoryIndex(WINDOW)
    first = fp(article(0, "A", "Missiles Tomahawk : Washington autorise leur livraison",
                       "Le Pentagone donne son feu vert aux missiles de croisière."))
    second = fp(article(1, "B", "Kiev : Zelensky remercie les alliés pour les lanceurs",
                        "Le président ukrainien salue l’aide militaire occidentale."))
    index.add(1, first)
    assert index.assign(second).story_id is None
    index.add(2, second)
    bridge = fp(article(2, "C", "Missiles Tomahawk livrés : Zelensky remercie Washington",
                        "Le président ukrainien salue le feu vert du Pentagone aux missiles "
                        "de croisière et aux lanceurs."))
    assignment = index.assign(bridge)
    assert (assignment.story_id, assignment.merged) == (1, (2,))
    index.merge(1, assignment.merged)
    assert index.story(2) == 1


def test_only_articles_published_within_the_window_join() -> None:
    first = fp(Article("u1", "Washington autorise les Tomahawk", "", WIRE, START, "A", "page"))
    index = StoryIndex.of(WINDOW, [Candidate(1, first)])
    later = fp(Article("u2", "Copie", "", WIRE, START + timedelta(seconds=WINDOW + HOUR), "B",
                       "page"))
    assert index.assign(later).story_id is None
    soon = fp(Article("u3", "Copie", "", WIRE, START + timedelta(seconds=WINDOW - HOUR), "B",
                      "page"))
    assert index.assign(soon).story_id == 1


def test_the_index_forgets_what_is_older_than_two_windows() -> None:
    index = StoryIndex(WINDOW)
    wire = fp(Article("u1", "Washington autorise les Tomahawk", "", WIRE, START, "A", "page"))
    index.add(1, wire, now=0.0)
    index.add(2, fp(article(0, "B", "Toulon : les salariés de Lidl en grève", "Grève.")), now=WINDOW)
    assert len(index) == 2
    index.add(3, fp(article(0, "C", "Autre chose", "Rien.")), now=3 * WINDOW)
    assert len(index) == 2  # the first, added more than two windows ago, is forgotten
    assert index.assign(wire).story_id is None


def test_dossier_and_live_pages_neither_join_nor_let_others_join_through_them() -> None:
    index = StoryIndex(WINDOW)
    news = fp(article(0, "BFMTV", "Meurtre de Louise : la garde à vue du couple suspecté levée",
                      "Le couple interpellé à Épinay-sur-Orge a été relâché."))
    dossier = fp(article(1, "BFMTV", "Meurtre de Louise, 11 ans",
                         "Louise, 11 ans, a été retrouvée morte à Épinay-sur-Orge.",
                         "https://www.bfmtv.com/paris/meurtre-de-louise_DN-202502100481.html"))
    index.add(1, news)
    assert index.assign(dossier).story_id is None and index.assign(dossier).reason == "dossier"
    index.add(2, dossier)
    assert len(index) == 1


def _joined(first: int, then: int) -> tuple[str, str]:
    """(reason, evidence) of ITEMS[then] joining the story of ITEMS[first]."""
    index = StoryIndex(WINDOW)
    index.add(1, fp(article(*ITEMS[first][1:])))
    joining = article(*ITEMS[then][1:])
    printed = fp(joining)
    assignment = index.assign(printed)
    assert assignment.story_id == 1, assignment
    return assignment.reason, evidence(assignment, joining, printed)


def test_a_join_is_explained_in_the_articles_own_words() -> None:
    """The event as the article names it, not its key (`mort:louis`); the words in common as
    written, not their stems; nothing more to say for a copy."""
    assert _joined(1, 2) == ("same-event mort:louis", "Meurtre de Louise")
    index = StoryIndex(WINDOW)
    index.add(1, fp(article(0, "AFP", "Des Tomahawk pour Kiev", WIRE)))
    copy = article(2, "Le Monde", "Washington livre des Tomahawk à l’Ukraine", WIRE)
    assert evidence(index.assign(fp(copy)), copy, fp(copy)) == ""


def test_words_in_common_are_named_heaviest_first_as_written() -> None:
    index = StoryIndex(WINDOW)
    index.add(1, fp(article(0, "BFMTV", "Présidence LR : Retailleau l'emporte face à Wauquiez",
                            "Bruno Retailleau élu président des Républicains.")))
    joining = article(1, "Le Figaro", "Retailleau largement élu face à Wauquiez",
                      "Le ministre devient président des Républicains.")
    printed = fp(joining)
    assignment = index.assign(printed)
    assert assignment.reason == "similar-words"
    assert assignment.shared[:2] == ("retailleau", "wauqu")
    assert evidence(assignment, joining, printed).startswith("Retailleau, Wauquiez")
