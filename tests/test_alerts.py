from datetime import UTC, datetime

from monitor.alerts import excerpt, plan
from monitor.models import Article, Hit, Match

TEXT = ("Les États-Unis ont autorisé lundi la livraison de missiles Tomahawk à l’Ukraine, "
        "a annoncé le Pentagone.")


def tomahawk_article(**changes) -> Article:
    values = dict(url="https://www.lemonde.fr/a.html", title="Washington autorise les Tomahawk",
                  summary="Le feu vert américain.", text=TEXT,
                  published=datetime(2025, 11, 24, 8, 12, tzinfo=UTC), outlet="Le Monde",
                  source="page")
    values.update(changes)
    return Article(**values)


def tomahawk_match(channels=("ops", "mail")) -> Match:
    start = TEXT.index("Tomahawk")
    ukraine = TEXT.index("Ukraine")
    return Match("tomahawk-ukraine", (Hit("Tomahawk", "text", start, start + 8),
                                      Hit("Ukraine", "text", ukraine, ukraine + 7)), channels)


def test_one_alert_per_channel_with_rule_outlet_paris_time_excerpt_and_link() -> None:
    alerts = plan(tomahawk_article(), [tomahawk_match()])
    assert [a.channel for a in alerts] == ["ops", "mail"]
    alert = alerts[0]
    assert alert.title == "Washington autorise les Tomahawk"
    assert alert.rule == "tomahawk-ukraine"
    assert alert.body.splitlines() == [
        "**Règle :** tomahawk-ukraine (Tomahawk, Ukraine)",
        "**Source :** Le Monde, 24/11/2025 09:12",
        "",
        "> Les États-Unis ont autorisé lundi la livraison de missiles **Tomahawk** à "
        "l’**Ukraine**, a annoncé le Pentagone.",
        "",
        "https://www.lemonde.fr/a.html",
    ]


def test_excerpt_prefers_the_text_then_summary_then_title() -> None:
    item = tomahawk_article(title="Tomahawk : feu vert", text="Rien de pertinent ici.")
    match = Match("r", (Hit("Tomahawk", "title", 0, 8),), ("ops",))
    assert excerpt(item, match) == "**Tomahawk** : feu vert"


def test_no_date_no_link() -> None:
    (alert,) = plan(tomahawk_article(published=None, url=None), [tomahawk_match(("ops",))])
    assert "**Source :** Le Monde" in alert.body.splitlines()
    assert "https://" not in alert.body
