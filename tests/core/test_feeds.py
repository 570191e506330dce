from datetime import UTC, datetime

import pytest

from monitor.core.feeds import canonical_url, parse
from tests.servers import FIXTURES

BASE = "https://www.example.fr"


def fixture(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes().replace(b"{{BASE}}", BASE.encode())


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://www.lemonde.fr/a.html?xtor=RSS-3208", "https://www.lemonde.fr/a.html"),
    ("https://www.francetvinfo.fr/a.html#xtor=RSS-3-[lestitres]", "https://www.francetvinfo.fr/a.html"),
    ("https://www.20minutes.fr/a?utm_source=rss&utm_campaign=une", "https://www.20minutes.fr/a"),
    ("https://x.fr/a?fbclid=abc&gclid=def&id=4", "https://x.fr/a?id=4"),
    ("HTTPS://WWW.Example.FR:443/Path", "https://www.example.fr/Path"),
    ("http://example.fr:80", "http://example.fr/"),
    ("http://example.fr:8080/a", "http://example.fr:8080/a"),
    ("https://x.fr/a?b=2&a=1", "https://x.fr/a?a=1&b=2"),
    ("https://x.fr/a?at_medium=rss&at_campaign=x&page=2", "https://x.fr/a?page=2"),
])
def test_canonical_url_drops_tracking_junk(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_rss2_entries() -> None:
    feed = parse(fixture("lemonde-international.xml"), BASE + "/feed.xml")
    assert feed.error is None
    assert feed.title == "Le Monde.fr - International"
    first = feed.entries[0]
    assert first.title == "Washington autorise la livraison de missiles Tomahawk à l’Ukraine"
    assert first.link == BASE + "/lemonde/international/article/2025/11/24/tomahawk_6650001_3210.html"
    assert first.guid == first.link  # isPermaLink guid, without the xtor
    assert first.published == datetime(2025, 11, 24, 8, 12, tzinfo=UTC)
    assert first.summary.startswith("Les États-Unis ont donné leur feu vert")
    assert first.feed_url == BASE + "/feed.xml"


def test_entries_are_attributed_to_the_configured_feed() -> None:
    feed = parse(fixture("lemonde-une.xml"), BASE + "/moved.xml", feed_url=BASE + "/feed.xml")
    assert {entry.feed_url for entry in feed.entries} == {BASE + "/feed.xml"}


def test_html_summaries_become_text() -> None:
    feed = parse(fixture("franceinfo-titres.xml"), BASE + "/feed.xml")
    assert feed.entries[0].summary == ("Washington a accepté de livrer ces missiles de croisière "
                                       "à longue portée, réclamés par Kiev depuis des mois.")


def test_cet_is_not_read_as_utc() -> None:
    feed = parse(fixture("franceinfo-titres.xml"), BASE + "/feed.xml")
    assert feed.entries[0].published == datetime(2025, 11, 24, 9, 5, tzinfo=UTC)


def test_latin1_feed_with_french_dates() -> None:
    feed = parse(fixture("20minutes-latin1.xml"), BASE + "/feed.xml",
                 {"content-type": "application/rss+xml"})
    entry = feed.entries[0]
    assert entry.title == "Proche-Orient : l'ONU appelle à la désescalade"
    assert entry.published == datetime(2025, 11, 24, 10, 0, tzinfo=UTC)
    assert "utm_" not in entry.link


def test_atom_feed() -> None:
    feed = parse(fixture("liberation.xml"), BASE + "/feed.xml")
    entry = feed.entries[0]
    assert entry.guid == "urn:uuid:3b1f0c2e-5d7e-4a9b-9c51-2f6a0e1d7c11"
    assert "Zelensky est attendu mardi à Budapest" in entry.summary
    assert entry.published == datetime(2025, 11, 24, 9, 30, tzinfo=UTC)


def test_truncated_feed_still_gives_its_entries() -> None:
    feed = parse(fixture("figaro-truncated.xml"), BASE + "/feed.xml")
    assert feed.error is None
    assert feed.entries[0].title == "Tempête Ciaran : la Bretagne placée en vigilance rouge"
    assert feed.warning == "line 18: unclosed CDATA section"  # and what is wrong, for people


def test_rss1_rdf_and_relative_links() -> None:
    body = b"""<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
      <channel rdf:about="/"><title>Blog</title><link>/</link><description>d</description></channel>
      <item rdf:about="/billets/1"><title>Premier billet</title><link>/billets/1?utm_medium=rss</link></item>
    </rdf:RDF>"""
    feed = parse(body, "https://blog.example.fr/rss.xml")
    assert [e.link for e in feed.entries] == ["https://blog.example.fr/billets/1"]


def test_relative_link_in_rss2_resolves_against_the_feed_url() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
            b"<link>/a/b.html</link></item></channel></rss>")
    assert parse(body, "https://site.fr/rss/une.xml").entries[0].link == "https://site.fr/a/b.html"


@pytest.mark.parametrize("body", [
    b"",
    b"   ",
    b"\x00\x01\x02binary junk\xff\xfe",
    b"/etc/hostname",  # never read as a path
])
def test_unreadable_documents_are_errors(body: bytes) -> None:
    feed = parse(body, BASE + "/feed.xml")
    assert feed.error and feed.error.startswith("unreadable feed")
    assert feed.entries == ()


def test_a_page_served_instead_of_a_feed_is_named_as_such() -> None:
    home = b"<!DOCTYPE html><html><head><title>Accueil</title></head><body>Bienvenue</body></html>"
    challenge = (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
                 b"<script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\">"
                 b"</script></head><body></body></html>")
    assert parse(home, BASE + "/feed.xml").error.startswith(
        "a web page, not a feed: is this the site's address rather than its feed's?")
    assert parse(challenge, BASE + "/feed.xml").error.startswith(
        "a Cloudflare challenge page, not a feed: the site turns robots away")



def test_a_valid_empty_feed_is_not_an_error() -> None:
    body = b'<rss version="2.0"><channel><title>Rien</title></channel></rss>'
    feed = parse(body, BASE + "/feed.xml")
    assert feed.error is None and feed.entries == ()


def test_entries_without_link_guid_or_title_are_skipped() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><description>x</description>'
            b"</item><item><title>ok</title></item></channel></rss>")
    assert [e.title for e in parse(body, BASE).entries] == ["ok"]


@pytest.mark.parametrize("variant", [
    "https://www.lemonde.fr/a/b.html?xtor=RSS-3208",
    "https://m.lemonde.fr/a/b.html",
    "https://amp.lemonde.fr/a/b.html",
    "https://www.lemonde.fr/amp/a/b.html",
    "https://www.lemonde.fr/a/b.amp.html",
    "http://lemonde.fr/a/b.html?amp=1#top",
    "https://www.lemonde.fr/a/b.html/amp",
])
def test_identity_sees_through_amp_mobile_and_tracking_variants(variant: str) -> None:
    from monitor.core.feeds import identity

    assert identity(variant) == "lemonde.fr/a/b.html"
    assert identity("https://www.lemonde.fr/a/c.html") != "lemonde.fr/a/b.html"


def test_summaries_keep_text_only_not_scripts_or_styles() -> None:
    body = (b'<rss version="2.0"><channel><title>Fil &amp; co</title><item><title>A &amp; B</title>'
            b'<link>https://example.org/a</link><description><![CDATA[<style>p {color: red}</style>'
            b'<p>Le <b>texte</b></p><script>alert("x")</script> suit &eacute;t&eacute;]]>'
            b'</description></item></channel></rss>')
    parsed = parse(body, "https://example.org/feed")
    assert parsed.title == "Fil & co"
    [entry] = parsed.entries
    assert entry.title == "A & B"
    assert entry.summary == "Le texte suit été"


def test_relative_links_join_the_feed_address_or_xml_base() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title>'
            b'<item><title>a</title><link>/a/b.html</link></item>'
            b'<item><title>b</title><link>https://]]>www.example.org/c</link></item></channel></rss>')
    first, second = parse(body, "https://example.org/rss/une.xml").entries
    assert first.link == "https://example.org/a/b.html"
    assert second.title == "b"  # a link urljoin cannot read does not lose the entry
    based = body.replace(b'<rss version="2.0">',
                         b'<rss version="2.0" xml:base="https://cdn.example.org/d/">')
    assert parse(based, "https://example.org/rss/une.xml").entries[0].link == \
        "https://cdn.example.org/a/b.html"


def test_a_date_no_news_can_have_is_unknown_and_said() -> None:
    items = "".join(f"<item><title>{title}</title><link>https://a.fr/{n}</link>"
                    f"<pubDate>{date}</pubDate></item>" for n, (title, date) in enumerate([
                        ("Fin", "Fri, 31 Dec 9999 23:59:59 GMT"), ("Hier", "hier soir"),
                        ("Bon", "Mon, 24 Nov 2025 09:15:00 GMT")]))
    parsed = parse(f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode(),
                   "https://a.fr/rss")
    assert [entry.published is None for entry in parsed.entries] == [True, True, False]
    assert parsed.warning == ("item 'Fin': date 9999-12-31 taken as unknown; item 'Hier': date "
                              "'hier soir' unreadable, taken as unknown")


def test_one_document_gives_at_most_max_entries() -> None:
    from monitor.core.feeds import MAX_ENTRIES

    items = "".join(f"<item><title>n{n}</title><link>https://a.fr/{n}</link></item>"
                    for n in range(MAX_ENTRIES + 500))
    parsed = parse(f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode(),
                   "https://a.fr/rss")
    assert len(parsed.entries) == MAX_ENTRIES and parsed.entries[-1].title == f"n{MAX_ENTRIES - 1}"
    assert parsed.warning == f"{MAX_ENTRIES} of its {MAX_ENTRIES + 500} entries read (the first)"


def _show(*items: tuple[str, str, str]) -> bytes:
    """An RSS document of (link, title, description) items."""
    body = "".join(f"<item><link>https://radio.fr/{link}</link><title>{title}</title>"
                   f"<description>{text}</description></item>" for link, title, text in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>R</title>{body}' \
           "</channel></rss>".encode()


BLURB = "Chaque jour, retrouvez le journal de 19h de la rédaction pour faire le tour de l'actu."


def test_a_summary_items_of_one_feed_share_is_furniture_and_dropped() -> None:
    """The newscast's blurb under three headlines about three stories tells none of them; an
    item's own summary stays, and so does one repeated under the same title (one item twice)."""
    parsed = parse(_show(("1", "EXTRAIT - Zelensky reçu par le pape", BLURB),
                         ("2", "EXTRAIT - Retailleau élu président de LR", BLURB),
                         ("3", "Darmanin annonce une prison en Guyane", "Une prison de haute "
                          "sécurité ouvrira en Guyane."),
                         ("4", "Le même article", "Deux fois."), ("5", "Le même article",
                                                                 "Deux fois.")),
                   "https://radio.fr/rss")
    assert [entry.summary for entry in parsed.entries] == [
        "", "", "Une prison de haute sécurité ouvrira en Guyane.", "Deux fois.", "Deux fois."]
    assert len(parsed.furniture) == 1


def test_a_summary_shared_by_items_of_one_story_is_no_furniture() -> None:
    """One lead under every item on the resignation: the story they all tell, and it stays."""
    lead = "Sébastien Lecornu a déposé sa démission ce lundi matin à l'Élysée."
    parsed = parse(_show(("1", "Crise politique après la démission de Sébastien Lecornu", lead),
                         ("2", "Démission de Lecornu : les scénarios possibles", lead),
                         ("3", "Les marchés reculent", lead)), "https://radio.fr/rss")
    assert [entry.summary for entry in parsed.entries] == [lead] * 3
    assert parsed.furniture == frozenset()


def test_furniture_found_before_holds_for_the_items_parsed_alone() -> None:
    """Steady state: the known items are not parsed again, so the one new item under the blurb
    has no neighbour to share it with; the furniture of the last parse still tells."""
    first = _show(("1", "EXTRAIT - Zelensky reçu par le pape", BLURB),
                  ("2", "EXTRAIT - Retailleau élu président de LR", BLURB))
    before = parse(first, "https://radio.fr/rss")
    after = first.replace(b"<item>", b"<item><link>https://radio.fr/3</link><title>EXTRAIT - "
                          b"Cannes</title><description>" + BLURB.encode() +
                          b"</description></item><item>", 1)
    parsed = parse(after, "https://radio.fr/rss", known=before.digests,
                   furniture=before.furniture)
    assert parsed.known == 2 and [entry.summary for entry in parsed.entries] == [""]
    assert parse(after, "https://radio.fr/rss", known=before.digests).entries[0].summary == BLURB
