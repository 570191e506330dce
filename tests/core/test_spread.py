"""When a story spreads: outlets counted within a window ending at its latest article, the
watches of the rules it matched (or `trending`), one alert per watch and channel."""

from monitor.core.spread import (
    SUBJECT,
    TRENDING,
    Member,
    Spread,
    Watch,
    alerts,
    outlets_within,
    site,
    spreading,
)

HOUR = 3600.0
THREE_IN_2H = Spread(3, 2 * HOUR)


def story(*members: tuple[str, float], rules: tuple[str, ...] = ("ukraine",)) -> list[Member]:
    return [Member(outlet, outlet.lower().replace(" ", "") + ".fr", at * HOUR,
                   rules if index == 0 else ()) for index, (outlet, at) in enumerate(members)]


def test_outlets_count_once_within_the_window_ending_at_the_latest_article() -> None:
    assert outlets_within(story(("RFI", 0), ("RFI", 0.5), ("Le Monde", 1)), THREE_IN_2H) == (
        "RFI", "Le Monde")
    assert outlets_within(story(("RFI", 0), ("Le Monde", 1), ("AFP", 2)), THREE_IN_2H) == (
        "RFI", "Le Monde", "AFP")
    # spread long ago: one more article a day later is not a story spreading now
    late = story(("RFI", 0), ("Le Monde", 1), ("AFP", 1.5), ("Ouest-France", 26))
    assert outlets_within(late, THREE_IN_2H) == ("Ouest-France",)
    assert outlets_within([], THREE_IN_2H) == ()


def test_an_outlet_is_its_site_so_a_newspaper_s_sections_are_one() -> None:
    assert [site(url) for url in (
        "https://www.lemonde.fr/international/a", "https://rmc.bfmtv.com/x",
        "https://news.bbc.co.uk/y", "http://127.0.0.2:8080/z", None)] == [
        "lemonde.fr", "bfmtv.com", "bbc.co.uk", "127.0.0.2", ""]
    sections = [Member("BFMTV Paris", "bfmtv.com", 0), Member("BFMTV Var", "bfmtv.com", 60),
                Member("RMC", "bfmtv.com", 120), Member("RFI", "rfi.fr", 180)]
    assert outlets_within(sections, THREE_IN_2H) == ("BFMTV Paris", "RFI")


def test_a_rule_s_watch_sees_only_the_stories_it_matched_and_trending_sees_all() -> None:
    rule = Watch("ukraine", THREE_IN_2H, ("slack",))
    trending = Watch(TRENDING, Spread(2, HOUR), ("mail",))
    three = story(("RFI", 0), ("Le Monde", 0.5), ("AFP", 1))
    assert [(w.name, outlets) for w, outlets in spreading(three, [rule, trending])] == [
        ("ukraine", ("RFI", "Le Monde", "AFP")), (TRENDING, ("RFI", "Le Monde", "AFP"))]
    unmatched = story(("RFI", 0), ("Le Monde", 0.5), ("AFP", 1), rules=())
    assert [w.name for w, _ in spreading(unmatched, [rule, trending])] == [TRENDING]
    two = story(("RFI", 0), ("Le Monde", 1.5))
    assert spreading(two, [rule, trending]) == []  # 2 outlets, but 1.5 h apart


def test_one_alert_per_channel_sent_at_once_and_unique_per_watch() -> None:
    rule = Watch("ukraine", THREE_IN_2H, ("slack", "mail"), "high")
    found = alerts("Missiles pour l'Ukraine", "https://a.fr/1",
                   story(("RFI", 0), ("Le Monde", 0.5), ("AFP", 1)), [rule])
    assert [(a.channel, a.kind, a.subject, a.priority, a.hold_until) for a in found] == [
        ("slack", "followup", SUBJECT + "ukraine", "high", None),
        ("mail", "followup", SUBJECT + "ukraine", "high", None)]
    assert found[0].title == "Sujet qui s’étend (3 médias en 2 h) : Missiles pour l'Ukraine"
    assert found[0].payload["excerpt"] == [("Repris par RFI, Le Monde, AFP.", False)]
    assert found[0].payload["url"] == "https://a.fr/1" and found[0].payload["rule"] == "ukraine"
