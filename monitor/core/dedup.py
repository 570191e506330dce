"""Same story, several outlets: what an article's fingerprint keeps, and whether two articles tell
one story. Pure, and symmetric: the verdict on a pair depends on the two articles alone (never on
what arrived before), so the stories that `storyindex` builds from these verdicts are the same
whatever the order of arrival.

Signals, strongest first: the same folded text (a syndicated wire copy); nearly the same text
(MinHash over word shingles, compared as containment so a trimmed copy still joins); then the
words of headline and lead weighted by how rare they are in French (`terms`), compared by cosine.
Real feeds give little more than a headline and a summary, so that last signal does most of the
work, and time apart raises the bar it must clear. The thresholds come from the labelled real
day (bench/data/real_day.yaml, `python bench/run.py --only stories`), chosen for precision: a
wrong join silences another story's alert, a missed join only repeats one. Capitalised names in
common, as a bonus, lowered precision there more than they raised recall, and were dropped.
The same item seen twice, or the same URL with tracking junk, never gets this far: the store's
keys (guid, canonical URL) stop it at the door.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from monitor.core import events, evergreen, terms
from monitor.core.models import Article, StoryAssignment
from monitor.core.text import fold, fold_word

NUM_PERM = 64
SHINGLE = 4  # words
MIN_SHINGLES = 20  # below this a text is a teaser: its fingerprint says little
MIN_EXACT_CHARS = 200
NEAR_COPY = 0.6  # containment of the shorter text's shingles in the longer one
LEAD_CHARS = 600  # the part of the text that says what the story is
SUMMARY_CHARS = 400  # a feed's summary beyond this is the article, not its lead
SIMILAR = 0.45  # cosine of headline-and-lead terms at which two articles are one story
PER_DAY = 0.05  # added to SIMILAR per day between them: a story moves on, its words stay
MIN_SHARED = 2  # terms in common: one rare word (« Tomahawk ») is a subject, not a story
CORROBORATED = 0.15  # cosine a shared event needs besides: « accident du tunnel » named a drunk
# driver's trial and two teenagers buried in a sand tunnel, at cosine 0.05 (2026-01-14 capture);
# chosen on the tuning sets (bench/README: 0.10 and 0.20 gave less, 0.25 split the real week)
NEW_STORY = "new"  # the reason recorded for an article that starts a story
SIMILAR_WORDS = "similar-words"  # the reason recorded for a join by words in common



@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What story assignment needs to remember of an article; stored with the item."""

    vector: dict[str, float]  # weighted terms of headline and lead, unit length (`terms`)
    text_hash: str | None  # of the folded text; None when too short to be telling
    minhash: bytes | None  # NUM_PERM uint64 values; None when too few shingles
    shingles: int  # how many distinct shingles the minhash summarises
    at: float  # when it was published (else first seen), as a POSIX timestamp
    kind: str = evergreen.NEWS  # dossiers, lives and bulletins never join a story (`evergreen`)
    top: tuple[str, ...] = field(default=())  # heaviest terms: what the index looks it up by
    events: frozenset[str] = frozenset()  # the events its headline and lead name (`events`)
    # each term of `vector` as the article writes it, for `evidence`: known while the article is
    # completed (noted in the worker as it weighs the words; reading the text again for it cost
    # the daemon's busiest thread 50 µs an article), not stored
    written: dict[str, str] = field(default_factory=dict, compare=False)


TOP_TERMS = 10  # what the index looks an article up by (storyindex: two of them in common)


def fingerprint(article: Article, seen_at: float) -> Fingerprint:
    title = terms.headline(article.title)  # the same article is « EN IMAGES. » in another feed
    body = article.text if article.source == "page" else f"{title} {article.summary}"
    words = fold(body).text.split()
    folded = " ".join(words)
    text_hash = hashlib.sha256(folded.encode()).hexdigest() if len(folded) >= MIN_EXACT_CHARS else None
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(0, len(words) - SHINGLE + 1))}
    signature = minhash(shingles) if len(shingles) >= MIN_SHINGLES else None
    at = article.published.timestamp() if article.published else seen_at
    lead = _lead(article)
    outlet = frozenset(fold_word(word) for word in terms.words(article.outlet))
    vector, written = terms.vector_as_written(title, lead, outlet)  # « - Témoins BFMTV »: no story
    return Fingerprint(vector, text_hash, signature, len(shingles), at,
                       evergreen.kind(article.url, article.title, article.summary),
                       terms.top_terms(vector, TOP_TERMS),
                       events.event_keys(title, lead), written)


def _lead(article: Article) -> str:
    """The part of an article after its headline that says what the story is: the feed's
    summary, or the page's first lines when that summary is a teaser."""
    lead = article.summary[:SUMMARY_CHARS]
    if article.source == "page" and len(lead) < LEAD_CHARS // 2:
        lead = f"{lead} {article.text[:LEAD_CHARS]}"
    return lead


@cache
def _permutations() -> tuple[Any, Any]:
    """MinHash permutations h -> a*h + b mod 2**64 with odd a (a bijection, so no collisions are
    added) over a 64-bit BLAKE2 hash of each shingle. Fixed seed: stored signatures must stay
    comparable."""
    import numpy as np

    permutations = np.random.default_rng(7).integers(0, 2**64, (2, NUM_PERM), dtype=np.uint64,
                                                     endpoint=False)
    return permutations[0] | np.uint64(1), permutations[1]


def minhash(shingles: Iterable[str]) -> bytes:
    """NUM_PERM little-endian uint64 minima. Written out rather than taken from datasketch:
    importing it imports SciPy (56 MB of memory in the daemon and in each worker process) for
    a parameter search we do not need; the sketch itself is these three lines. (numpy is
    imported here: signatures are made in the workers, and the daemon need not load it.)"""
    import numpy as np

    a, b = _permutations()
    hashes = np.frombuffer(b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest()
                                    for s in shingles), "<u8")
    with np.errstate(over="ignore"):  # wrapping around is the modulo
        return bytes((hashes[:, None] * a + b).min(axis=0).astype("<u8").tobytes())


def text_containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the other (0 when unknown)."""
    if a.minhash is None or b.minhash is None:
        return 0.0
    # values equal in both (their byte order does not matter to equality); no numpy here,
    # the daemon compares signatures without loading it
    same: int = sum(map(operator.eq, memoryview(a.minhash).cast("Q"),
                        memoryview(b.minhash).cast("Q")))
    jaccard = same / NUM_PERM
    union = (a.shingles + b.shingles) / (1 + jaccard)  # |A ∪ B| from |A|, |B| and J
    return min(1.0, jaccard * union / min(a.shingles, b.shingles))


def threshold(a: Fingerprint, b: Fingerprint) -> float:
    """The cosine two articles must reach to be one story."""
    return SIMILAR + PER_DAY * abs(a.at - b.at) / 86400.0


def same_story(a: Fingerprint, b: Fingerprint, texts: bool = True) -> tuple[str, float] | None:
    """Why `a` and `b` tell the same story, with a score; None when they don't. `texts=False`
    skips comparing their texts, for a pair that only shares headline terms (the index found no
    near-copy between them): the words decide, at a fraction of the cost."""
    if a.kind != evergreen.NEWS or b.kind != evergreen.NEWS:
        return None
    if texts:
        if a.text_hash and a.text_hash == b.text_hash:
            return "same-text", 1.0
        containment = text_containment(a, b)
        if containment >= NEAR_COPY:
            return "near-copy", round(containment, 3)
    similarity = terms.cosine(a.vector, b.vector)
    if similarity >= threshold(a, b) and len(a.vector.keys() & b.vector.keys()) >= MIN_SHARED:
        return SIMILAR_WORDS, round(similarity, 3)
    named = a.events & b.events
    if named and similarity >= CORROBORATED:
        return f"same-event {min(named)}", round(similarity, 3)
    return None


def evidence(assignment: StoryAssignment, article: Article, fp: Fingerprint) -> str:
    """What the article shares with the story it joined, in its own words: the event as it
    names it (« Meurtre de Louise », not `mort:louis`) or the words in common (« Retailleau,
    Wauquiez »); empty for a copy, a new story or the same address. For readers of the console
    and `monitor stories`; stems say nothing to them. `fp`: the article's, as `fingerprint`
    made it (its words as written)."""
    kind, _, key = assignment.reason.partition(" ")
    if kind == "same-event":  # what `fingerprint` read
        return events.as_written(key, terms.headline(article.title), _lead(article)) or key
    if kind != SIMILAR_WORDS:
        return ""
    return ", ".join(dict.fromkeys(fp.written.get(stem, stem) for stem in assignment.shared))
