"""Fuzzing the parse stage with mutated feeds: whatever the bytes, parsing returns a result
(entries or an error), never raises, and every entry is well-formed."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.feeds import canonical_url, parse

# The project's fixtures, plus the real French feeds of ../shared when it is there.
FEEDS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "feeds").glob("*.xml")) + sorted(
    (Path(__file__).resolve().parents[3] / "shared" / "data" / "feeds").glob("fr_*.xml"))
SNIPPETS = [b"<", b">", b"&", b"&amp;", b"<![CDATA[", b"]]>", b"</item>", b"<item>", b"\x00",
            b"\xff\xfe", b"<!ENTITY x 'y'>", b"&x;", b"<link>http://[::1:80/</link>",
            b"<link>http://h:99999/</link>", b"<pubDate>lun., 99 foo 2025 25:61:00 +9999</pubDate>",
            "é".encode("latin-1"), "€".encode()]


@st.composite
def mutated_feed(draw) -> bytes:
    data = bytearray(FEEDS[draw(st.integers(0, len(FEEDS) - 1))].read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if action == "insert":
            data[position:position] = draw(st.sampled_from(SNIPPETS) | st.binary(max_size=16))
        elif action == "delete":
            del data[position:position + draw(st.integers(1, 64))]
        elif action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "truncate":
            del data[position:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_feed())
def test_parse_never_raises_on_mutated_feeds(body: bytes) -> None:
    feed = parse(body, "https://example.fr/rss.xml", {"content-type": "application/rss+xml"})
    assert (feed.error is None) or feed.entries == ()
    for entry in feed.entries:
        assert isinstance(entry.title, str) and isinstance(entry.summary, str)
        assert entry.link is None or entry.link.startswith(("http://", "https://"))
        assert entry.link or entry.guid or entry.title


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_canonical_url_never_raises(text: str) -> None:
    canonical_url("https://" + text)
    canonical_url(text)
