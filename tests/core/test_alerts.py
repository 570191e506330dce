from datetime import UTC, datetime

from monitor.core.alerts import excerpt, for_matches
from monitor.core.models import Article, Hit, Match

TEXT = ("Les États-Unis ont autorisé lundi la livraison de missiles Tomahawk à l’Ukraine, "
        "a annoncé le Pentagone.")


def tomahawk_article(**changes) -> Article:
    values = dict(url="https://www.lemonde.fr/a.html", title="Washington autorise les Tomahawk",
                  summary="Le feu vert américain.", text=TEXT,
                  published=datetime(2025, 11, 24, 8, 12, tzinfo=UTC), outlet="Le Monde",
                  source="page")
    values.update(changes)
    return Article(**values)


def tomahawk_match(channels=("ops", "mail"), priority="normal") -> Match:
    start = TEXT.index("Tomahawk")
    ukraine = TEXT.index("Ukraine")
    return Match("tomahawk-ukraine", (Hit("Tomahawk", "text", start, start + 8),
                                      Hit("Ukraine", "text", ukraine, ukraine + 7)), channels,
                 priority, "Missiles pour Kiev")


def test_one_alert_per_channel_carrying_what_the_message_needs() -> None:
    alerts = for_matches(tomahawk_article(), [tomahawk_match()])
    assert [a.channel for a in alerts] == ["ops", "mail"]
    alert = alerts[0]
    assert (alert.rule, alert.title, alert.priority) == \
        ("tomahawk-ukraine", "Washington autorise les Tomahawk", "normal")
    assert alert.payload == {
        "title": "Washington autorise les Tomahawk",
        "url": "https://www.lemonde.fr/a.html",
        "outlet": "Le Monde",
        "published": "24/11/2025 09:12",  # Paris time
        "rule": "tomahawk-ukraine",
        "description": "Missiles pour Kiev",
        "priority": "normal",
        "terms": ["Tomahawk", "Ukraine"],
        "rules": [{"rule": "tomahawk-ukraine", "description": "Missiles pour Kiev",
                   "priority": "normal", "terms": ["Tomahawk", "Ukraine"]}],
        "excerpt": [("Les États-Unis ont autorisé lundi la livraison de missiles ", False),
                    ("Tomahawk", True), (" à l’", False), ("Ukraine", True),
                    (", a annoncé le Pentagone.", False)],
    }


def test_priority_adds_channels() -> None:
    alerts = for_matches(tomahawk_article(), [tomahawk_match(("ops",), "high")],
                  by_priority={"high": ["telegram", "ops"]})
    assert [(a.channel, a.priority) for a in alerts] == [("ops", "high"), ("telegram", "high")]
    assert for_matches(tomahawk_article(), [tomahawk_match(("ops",))],
                by_priority={"high": ["telegram"]})[0].channel == "ops"


def test_excerpt_prefers_the_text_then_summary_then_title() -> None:
    item = tomahawk_article(title="Tomahawk : feu vert", text="Rien de pertinent ici.")
    match = Match("r", (Hit("Tomahawk", "title", 0, 8),), ("ops",))
    assert excerpt(item, match) == [("Tomahawk", True), (" : feu vert", False)]


def test_excerpt_marks_every_occurrence_in_the_body_without_its_headline() -> None:
    """The rule saw « Tomahawk » in the headline first; the body says it twice, and starts
    with the headline, which the alert's title already shows."""
    title = "Feu vert aux Tomahawk"
    body = (f"{title}\nWashington livrera des tomahawk à Kiev. Les Tomahawk portent loin.")
    item = tomahawk_article(title=title, text=body)
    match = Match("r", (Hit("Tomahawk", "title", 13, 21),), ("ops",))
    assert excerpt(item, match) == [
        ("Washington livrera des ", False), ("tomahawk", True), (" à Kiev. Les ", False),
        ("Tomahawk", True), (" portent loin.", False)]


def test_no_date_no_link() -> None:
    (alert,) = for_matches(tomahawk_article(published=None, url=None), [tomahawk_match(("ops",))])
    assert alert.payload["published"] == "" and alert.payload["url"] is None


def test_several_rules_on_one_channel_make_one_alert_naming_them_all() -> None:
    start = TEXT.index("Pentagone")
    pentagon = Match("pentagone", (Hit("Pentagone", "text", start, start + 9),), ("ops",), "high",
                     "Défense américaine")
    alerts = for_matches(tomahawk_article(), [tomahawk_match(("ops", "mail")), pentagon])
    assert [(a.channel, a.rule, a.priority) for a in alerts] == [
        ("ops", "pentagone, tomahawk-ukraine", "high"),  # the higher priority leads
        ("mail", "tomahawk-ukraine", "normal")]  # a channel gets only the rules routed to it
    ops = alerts[0].payload
    assert [r["rule"] for r in ops["rules"]] == ["pentagone", "tomahawk-ukraine"]
    assert ops["terms"] == ["Pentagone", "Tomahawk", "Ukraine"]
    assert ops["description"] == "Défense américaine ; Missiles pour Kiev"
    assert [part for part, hit in ops["excerpt"] if hit] == ["Tomahawk", "Ukraine", "Pentagone"]


def test_followups_on_each_channel_the_story_alerted_on() -> None:
    from monitor.core.alerts import followups

    item = tomahawk_article(outlet="Libération", title="Les Tomahawk arrivent")
    alerted = {"ops": ("tomahawk-ukraine", "high"), "mail": ("tomahawk-ukraine", "high")}
    now = 1_764_000_000.0 + 600  # 10 min past an hour
    digest = followups(item, alerted, now, "digest", new_outlet=True)
    assert [(f.channel, f.kind, f.outlet, f.hold_until) for f in digest] == [
        ("ops", "followup", "Libération", 1_764_003_600.0),
        ("mail", "followup", "Libération", 1_764_003_600.0)]
    assert digest[0].title == "Aussi repris par Libération : Les Tomahawk arrivent"
    same_outlet = followups(item, alerted, now, "message", new_outlet=False)
    assert [f.hold_until for f in same_outlet] == [None, None]
    assert same_outlet[0].title == "Suite (Libération) : Les Tomahawk arrivent"
    assert followups(item, alerted, now, "off", new_outlet=True) == []
    assert followups(item, {}, now, "message", new_outlet=True) == []
