"""OPML in and out: the shapes feed readers export, folders as tags, and a round trip."""

from datetime import UTC, datetime

import pytest

from monitor.core.opml import OpmlError, OutlineFeed, parse, render
from tests.servers import FIXTURES


def test_a_miniflux_export_gives_each_feed_once_with_all_its_folders() -> None:
    feeds = parse((FIXTURES / "opml" / "miniflux.opml").read_bytes())
    assert [(feed.name, feed.tags) for feed in feeds] == [
        ("Le Monde — International", ["International", "Politique"]),
        ("RFI", ["International"]),
        ("Libération", ["Politique"])]
    assert feeds[2].url == "https://www.liberation.fr/arc/outboundfeeds/rss-all/?outputType=xml"


def test_a_freshrss_export_with_nested_folders_and_a_top_level_feed() -> None:
    feeds = parse((FIXTURES / "opml" / "freshrss.opml").read_bytes())
    assert [(feed.name, feed.tags) for feed in feeds] == [
        ("franceinfo — Les titres", ["Sans catégorie"]),
        ("Ouest-France", ["Régions"]),
        ("Le Télégramme", ["Régions", "Bretagne"]),
        ("RFI", [])]


def test_export_then_import_gives_the_same_feeds() -> None:
    feeds = [OutlineFeed("Le Monde", "https://www.lemonde.fr/rss/une.xml"),
             OutlineFeed("Libé & co <test>", "https://x.fr/rss?a=1&b=2", ["politique", "enquête"]),
             OutlineFeed("RFI", "https://www.rfi.fr/fr/rss", ["international"])]
    text = render(feeds, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Wed, 02 Dec 2026 00:00:00 GMT</dateCreated>" in text
    assert parse(text.encode()) == feeds


def test_each_feed_is_exported_once_whatever_its_folders() -> None:
    """Nested folders give a feed two tags; exported, it once appeared in both folders."""
    feeds = parse((FIXTURES / "opml" / "freshrss.opml").read_bytes())
    text = render(feeds)
    assert text.count("https://www.letelegramme.fr/rss.xml") == 1
    assert 'category="/Régions,/Bretagne"' in text
    assert {feed.url: feed for feed in parse(text.encode())} == {feed.url: feed for feed in feeds}


def test_an_untitled_outline_is_named_by_its_feed() -> None:
    (feed,) = parse(b"<opml version='2.0'><body><outline type='rss' xmlUrl='https://a.fr/rss'/>"
                    b"</body></opml>")
    assert (feed.name, feed.url) == ("", "https://a.fr/rss")  # the import asks the feed


@pytest.mark.parametrize(("data", "message"), [
    (b"<opml><body><outline", "not well-formed XML"),
    (b"<rss version='2.0'><channel/></rss>", "not an OPML document"),
])
def test_what_is_not_opml_is_said(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse(data)


def test_entities_are_not_expanded() -> None:
    """A file from elsewhere must not make the parser read local files (XXE)."""
    data = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
            b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.fr/rss"/></body>'
            b"</opml>")
    with pytest.raises(OpmlError, match="external entity"):
        parse(data)
