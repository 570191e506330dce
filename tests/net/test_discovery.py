"""Finding a site's feed from one of its pages."""

from monitor.net.discovery import common_feeds, linked_feeds

PAGE = b"""<!DOCTYPE html><html><head><title>Le Fil</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/json" href="/api">
<link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml">
<link rel="alternate" hreflang="en" href="/en/">
<link rel="Alternate" type="application/rss+xml; charset=utf-8" title="RSS" href="rss/une.xml">
<link rel="alternate" type="application/rss+xml" href="https://cdn.site.fr/rss/une.xml">
</head><body><a href="/feed">flux</a></body></html>"""


def test_the_feeds_a_page_links_rss_first_then_atom_in_page_order() -> None:
    assert linked_feeds(PAGE, "https://www.site.fr/actu/") == [
        "https://www.site.fr/actu/rss/une.xml", "https://cdn.site.fr/rss/une.xml",
        "https://www.site.fr/atom.xml"]


def test_a_page_without_links_or_not_html_gives_none() -> None:
    assert linked_feeds(b"<html><head></head><body>rien</body></html>", "https://a.fr/") == []
    assert linked_feeds(b"", "https://a.fr/") == []
    assert linked_feeds(b"\x00\xff", "https://a.fr/") == []


def test_usual_addresses_are_on_the_page_s_site() -> None:
    found = common_feeds("https://www.site.fr/actu/page.html?x=1")
    assert found[:3] == ["https://www.site.fr/feed", "https://www.site.fr/rss",
                         "https://www.site.fr/rss.xml"]
