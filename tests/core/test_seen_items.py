"""Items seen last time are not parsed again, and the entries are those a full parse gives:
proved on the project's feeds, on feedparser's own test corpus (its source distribution, from
the package index) and, when it is there, on ../shared/data/feeds."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from monitor.core import seen_items
from monitor.core.feeds import parse
from monitor.core.models import Entry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"
SHARED = Path(__file__).parents[3] / "shared" / "data" / "feeds"
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Le Fil</title><link>https://fil.fr/</link>
<lastBuildDate>%(built)s</lastBuildDate>
%(items)s
</channel></rss>"""


def item(n: int, extra: str = "") -> str:
    return (f"<item><title>Titre {n}</title><link>https://fil.fr/{n}</link>"
            f"<description>R\u00e9sum\u00e9 {n}{extra}</description>"
            f"<pubDate>Mon, 10 Feb 2025 0{n % 10}:00:00 +0100</pubDate></item>")


def document(numbers: list[int], built: str = "Mon, 10 Feb 2025 09:00:00 +0100",
             extra: str = "") -> bytes:
    items = "\n".join(item(n, extra) for n in numbers)
    return RSS % {b"built": built.encode(), b"items": items.encode()}


def test_a_changed_feed_parses_only_its_new_items() -> None:
    first = parse(document([3, 2, 1]), "https://fil.fr/rss")
    assert len(first.entries) == 3 and first.known == 0 and len(first.digests) == 24
    # two new items on top, the date of the channel changed: only those two are parsed
    second = parse(document([5, 4, 3, 2, 1], built="Mon, 10 Feb 2025 10:00:00 +0100"),
                   "https://fil.fr/rss", known=first.digests)
    assert [e.title for e in second.entries] == ["Titre 5", "Titre 4"]
    assert second.known == 3 and len(second.digests) == 40
    assert second.entries == parse(document([5, 4]), "https://fil.fr/rss").entries


def test_an_item_changed_in_any_byte_or_context_is_parsed_again() -> None:
    first = parse(document([2, 1]), "https://fil.fr/rss")
    edited = parse(document([2, 1], extra=" (mis à jour)"), "https://fil.fr/rss",
                   known=first.digests)
    assert edited.known == 0 and len(edited.entries) == 2
    rebased = document([2, 1]).replace(b'<rss version="2.0">',
                                       b'<rss version="2.0" xml:base="https://autre.fr/">')
    assert parse(rebased, "https://fil.fr/rss", known=first.digests).known == 0
    other_charset = parse(document([2, 1]), "https://fil.fr/rss",
                          {"content-type": "text/xml; charset=iso-8859-1"}, known=first.digests)
    assert other_charset.known == 0


@pytest.mark.parametrize("body", [
    "<rss><channel><!-- <item> -->%s<![CDATA[ </item> ]]></channel></rss>",
    "<rss><channel>%s<description><![CDATA[<item>x</item>]]></description></channel></rss>",
])
def test_items_named_in_comments_or_cdata_are_not_items(body: str) -> None:
    found = seen_items.split((body % (item(1) + item(2))).encode())
    assert found is not None and len(found.spans) == 2


@pytest.mark.parametrize("body", [
    b"<rss><channel><item><item></item></item></channel></rss>",  # nested
    b"<rss><channel><item><title>t</title></channel></rss>",  # never closed
    b"<rss><channel><item/></channel></rss>",  # empty
    b"<feed><entry></entry><item></item></feed>",  # mixed
    b"<rss><channel></channel></rss>",  # no item
    "<rss><channel><item></item></channel></rss>".encode("utf-16"),  # not ASCII-compatible
])
def test_a_document_that_cannot_be_cut_cleanly_is_parsed_whole(body: bytes) -> None:
    assert seen_items.split(body) is None


def test_a_warning_from_the_shortened_document_means_a_full_parse() -> None:
    clean = parse(document([2, 1]), "https://fil.fr/rss")
    broken = document([3, 2, 1]).replace(b"</channel>", b"<oops></channel>")
    parsed = parse(broken, "https://fil.fr/rss", known=clean.digests)
    assert parsed.known == 0 and len(parsed.entries) == 3 and parsed.warning
    assert parsed.digests == b""  # nothing remembered from a document with a warning


# -- the proof on corpora -------------------------------------------------------------------

def feedparser_corpus(cache: Path) -> list[Path]:
    """The test documents of the installed feedparser's source distribution."""
    release = version("feedparser")
    unpacked = cache / f"feedparser-{release}"
    if not unpacked.exists():  # fetched and unpacked aside, then renamed: two suites at once
        with tempfile.TemporaryDirectory(dir=cache) as aside:  # (as in CI) never read half
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", f"feedparser=={release}", "-d", aside],
                           check=True, timeout=300)
            with tarfile.open(Path(aside) / f"feedparser-{release}.tar.gz") as archive:
                archive.extractall(aside, filter="data", members=[
                    m for m in archive.getmembers() if "/tests/" in m.name])
            with contextlib.suppress(OSError):  # the other suite's came first
                (Path(aside) / unpacked.name).rename(unpacked)
    return sorted(p for p in (unpacked / "tests").rglob("*") if p.suffix in (".xml", ".rss",
                                                                            ".atom", ".rdf"))


def cut_patterns(count: int) -> Iterator[list[int]]:
    """Which items a test takes as known: all, all but the first, all but the last, every
    other one."""
    yield list(range(count))
    if count > 1:
        yield list(range(1, count))
        yield list(range(count - 1))
        yield list(range(0, count, 2))


def check(path: Path) -> tuple[int, int]:
    """(documents cut, items cut) for `path`: every shortened parse gives the entries of the
    full parse for the items kept, in order."""
    body = path.read_bytes()
    url = "https://corpus.example/" + path.name
    full = parse(body, url)
    items = seen_items.split(body)
    if items is None or not full.digests:
        return 0, 0
    aligned = len(full.entries) == len(items.spans)
    cut_docs = cut_items = 0
    for known in cut_patterns(len(items.spans)):
        digests = b"".join(items.digest(index) for index in known)
        short = parse(body, url, known=digests, furniture=full.furniture)  # as polling does
        if not short.known:  # parsed whole after all: the same as a full parse
            assert short.entries == full.entries, path
            continue
        kept = [index for index in range(len(items.spans)) if index not in known]
        if aligned:
            assert short.entries == tuple(full.entries[index] for index in kept), path
        else:  # some item gives no entry: those kept are still in order, none invented
            assert is_subsequence(short.entries, full.entries), path
        assert short.digests == full.digests and short.title == full.title, path
        cut_docs, cut_items = cut_docs + 1, cut_items + short.known
    return cut_docs, cut_items


def is_subsequence(part: tuple[Entry, ...], whole: tuple[Entry, ...]) -> bool:
    rest = iter(whole)
    return all(any(entry == other for other in rest) for entry in part)


def test_shortened_parses_equal_full_ones_on_every_corpus(tmp_path_factory) -> None:
    cache = Path.home() / ".cache" / "monitor-tests"
    cache.mkdir(parents=True, exist_ok=True)
    corpora = {"fixtures": sorted(FIXTURES.glob("*.xml")),
               "feedparser": feedparser_corpus(cache),
               "shared": sorted(SHARED.glob("*.xml")) if SHARED.is_dir() else []}
    for name, paths in corpora.items():
        totals = [check(path) for path in paths]
        documents, items = sum(t[0] for t in totals), sum(t[1] for t in totals)
        print(f"{name}: {len(paths)} documents, {sum(1 for t in totals if t[0])} cut, "
              f"{documents} shortened parses, {items} items not parsed again")
        if name != "shared":
            assert documents > 0, name  # the shortcut is taken, and proved, on each
