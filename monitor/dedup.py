"""Same story, several outlets: fingerprints and the decision to join an existing story. Pure.

Layers, cheapest first: identical folded text (syndicated wire copies), near-identical text
(MinHash over word shingles, compared as containment so a trimmed copy still joins), then titles
sharing most of their content words and the same numbers (a rewrite of the same dispatch under a
new headline). Only articles published within the window of each other can join, and a title alone
joins a story only through the story's first article: matching any member would let « Meurtre de
Louise, 11 ans » chain through its follow-ups into unrelated stories. The same item seen twice,
or the same URL with tracking junk, never gets this far: the store's keys (guid, canonical URL)
stop it at the door.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from monitor.models import Article, StoryAssignment
from monitor.text import fold, fold_word

_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w’'-]*[\w]")
_SENTENCE_END = re.compile(r"(^|[.!?:«»\"\n]\s*)$")
_NUMBER = re.compile(r"\b\d[\d ,.]*\d\b")

NUM_PERM = 64
LSH_BANDS, LSH_ROWS = 21, 3  # 63 of the 64 values; a pair with Jaccard 0.3 meets in a band
# with probability 1 - (1 - 0.3**3)**21 = 0.44, at 0.5 in 0.94, at 0.7 in 1.00: loose on purpose,
# LSH only proposes candidates and containment decides (datasketch's choice for threshold 0.3)
SHINGLE = 4  # words
MIN_SHINGLES = 20  # below this a text is a teaser: its fingerprint says little
MIN_EXACT_CHARS = 200
NEAR_COPY = 0.6  # containment of the shorter text's shingles in the longer one
TITLE_OVERLAP = 0.6  # shared content words / words of the shorter title
TITLE_JACCARD = 0.45  # shared content words / all content words of both titles
TITLE_MIN_SHARED = 3
LEAD_CHARS = 600  # the part of the text that says what the story is
RELATED_MIN_NAMES = 2
RELATED_MIN_WORDS = 5  # a headline alone is too little to call two texts one story
RELATED_KEYWORDS = 0.35  # share of lead keywords in common (of the smaller lead)
NEW_STORY = "new"  # the reason recorded for an article that starts a story

# Folded French (and a few English) function words: they say nothing about which story it is.
STOPWORDS = frozenset("""
a au aux avec ce ces cet cette dans de des du elle elles en est et eux il ils je la le les leur
leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses
son sur ta te tes toi ton tu un une vos votre vous y ete etre avoir ont sont fait faire plus
moins tres tout tous toute toutes apres avant depuis pendant sans sous entre chez vers selon
contre comme quand si ni car donc or the of to and in for on is at by with from this that
c est pourquoi comment quoi dont lors encore deja aussi ainsi alors bien peu trop ici la
""".split())


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What story assignment needs to remember of an article; stored with the item."""

    title_words: frozenset[str]
    text_hash: str | None  # of the folded text; None when too short to be telling
    minhash: bytes | None  # NUM_PERM uint64 values; None when too few shingles
    shingles: int  # how many distinct shingles the minhash summarises
    at: float  # when it was published (else first seen), as a POSIX timestamp
    names: frozenset[str] = frozenset()  # named things of the lead: people, places, numbers
    keywords: frozenset[str] = frozenset()  # content words of the lead


def fingerprint(article: Article, seen_at: float) -> Fingerprint:
    body = article.text if article.source == "page" else f"{article.title} {article.summary}"
    words = fold(body).text.split()
    folded = " ".join(words)
    text_hash = hashlib.sha256(folded.encode()).hexdigest() if len(folded) >= MIN_EXACT_CHARS else None
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(0, len(words) - SHINGLE + 1))}
    signature = minhash(shingles) if len(shingles) >= MIN_SHINGLES else None
    at = article.published.timestamp() if article.published else seen_at
    lead = " ".join((article.title, article.summary,
                     article.text[:LEAD_CHARS] if article.source == "page" else ""))
    return Fingerprint(title_words(article.title), text_hash, signature, len(shingles), at,
                       named_things(lead), frozenset(w for w in fold(lead).text.split()
                                                     if len(w) >= 4 and w not in STOPWORDS))


# MinHash permutations h -> a*h + b mod 2**64 with odd a (a bijection, so no collisions are added)
# over a 64-bit BLAKE2 hash of each shingle. Fixed seed: stored signatures must stay comparable.
_PERMUTATIONS = np.random.default_rng(7).integers(0, 2**64, (2, NUM_PERM), dtype=np.uint64,
                                                  endpoint=False)
_A, _B = _PERMUTATIONS[0] | np.uint64(1), _PERMUTATIONS[1]


def minhash(shingles: Iterable[str]) -> bytes:
    """NUM_PERM little-endian uint64 minima. Written out rather than taken from datasketch:
    importing it imports SciPy (56 MB of memory in the daemon and in each worker process) for
    a parameter search we do not need; the sketch itself is these three lines."""
    hashes = np.frombuffer(b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest()
                                    for s in shingles), "<u8")
    with np.errstate(over="ignore"):  # wrapping around is the modulo
        return (hashes[:, None] * _A + _B).min(axis=0).astype("<u8").tobytes()


def named_things(text: str) -> frozenset[str]:
    """Folded capitalised words not starting a sentence (people, places, organisations) and
    numbers of two digits or more: what tells one story from another on the same subject."""
    found = set()
    for match in _NAME.finditer(text):
        start = match.start()
        before = text[max(0, start - 3):start]
        if start == 0 or _SENTENCE_END.search(before):
            continue
        word = fold_word(match.group())
        if word not in STOPWORDS and len(word) > 1:
            found.add(word)
    found |= {n.replace(" ", "") for n in _NUMBER.findall(text)}
    return frozenset(found)


def title_words(title: str) -> frozenset[str]:
    return frozenset(w for w in fold(title).text.split()
                     if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))


def text_containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the other (0 when unknown)."""
    if a.minhash is None or b.minhash is None:
        return 0.0
    jaccard = float(np.mean(np.frombuffer(a.minhash, "<u8") == np.frombuffer(b.minhash, "<u8")))
    union = (a.shingles + b.shingles) / (1 + jaccard)  # |A ∪ B| from |A|, |B| and J
    return min(1.0, jaccard * union / min(a.shingles, b.shingles))


def similar_titles(a: Fingerprint, b: Fingerprint) -> float | None:
    """The overlap of two titles when they read as one headline rewritten, else None: most content
    words shared, and the same numbers (« JT du 8 février » is not « JT du 9 février »)."""
    shared = len(a.title_words & b.title_words)
    if shared < TITLE_MIN_SHARED:
        return None
    overlap = shared / min(len(a.title_words), len(b.title_words))
    jaccard = shared / len(a.title_words | b.title_words)
    numbers_a = {w for w in a.title_words if w.isdigit()}
    numbers_b = {w for w in b.title_words if w.isdigit()}
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return None
    return overlap if overlap >= TITLE_OVERLAP and jaccard >= TITLE_JACCARD else None


def related(a: Fingerprint, b: Fingerprint) -> float | None:
    """Rewrites of one story by different outlets share few sentences but the same named things
    (at least two) and much of their lead's vocabulary; two stories on the same subject share the
    names but not the rest. Returns the share of lead keywords in common, or None."""
    if len(a.names & b.names) < RELATED_MIN_NAMES:
        return None
    shared = len(a.keywords & b.keywords)
    smaller = min(len(a.keywords), len(b.keywords))
    overlap = shared / smaller if smaller else 0.0
    return overlap if overlap >= RELATED_KEYWORDS and shared >= RELATED_MIN_WORDS else None


def same_story(a: Fingerprint, b: Fingerprint, seed: bool = True) -> tuple[str, float] | None:
    """Why `a` and `b` tell the same story, with a score; None when they don't. Signals weaker
    than the text itself only count against a story's first article (`seed`)."""
    if a.text_hash and a.text_hash == b.text_hash:
        return "same-text", 1.0
    containment = text_containment(a, b)
    if containment >= NEAR_COPY:
        return "near-copy", round(containment, 3)
    if not seed:
        return None
    overlap = similar_titles(a, b)
    if overlap is not None:
        return "similar-title", round(overlap, 3)
    overlap = related(a, b)
    if overlap is not None:
        return "same-names-and-words", round(overlap, 3)
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent article, member of a story; `seed` when it is the story's first article."""

    story_id: int
    fingerprint: Fingerprint
    seed: bool


class StoryIndex:
    """The recent articles, indexed so that assigning one does not compare it with all of them:
    MinHash LSH (bands of the signature) finds near-copies of its text, an inverted index on
    title words and named things finds stories' first articles that could be rewrites of it.
    Articles added more than two windows ago are forgotten (by the clock of their adding, not
    their publication date: an undated item seen today must not push out its story)."""

    def __init__(self, window: float, posting_cap: int = 5000) -> None:
        self.window = window
        self._cap = posting_cap  # a word in more first articles than this says nothing
        self._members: dict[int, tuple[int, Fingerprint, bool]] = {}
        self._by_hash: dict[str, int] = {}
        # bucket → the key in it, or a set of keys once a second arrives: most buckets hold one
        # article, and a set for each cost 6 KB per article over 21 bands
        self._bands: list[dict[bytes, int | set[int]]] = [{} for _ in range(LSH_BANDS)]
        self._by_word: dict[str, set[int]] = {}
        self._order: list[tuple[float, int]] = []  # (added, key), a heap for eviction
        self._next = 0

    def __len__(self) -> int:
        return len(self._members)

    @classmethod
    def of(cls, window: float, candidates: Iterable[Candidate],
           now: float | None = None) -> StoryIndex:
        index = cls(window)
        for candidate in candidates:
            index.add(candidate.story_id, candidate.fingerprint, candidate.seed, now)
        return index

    def add(self, story_id: int, fp: Fingerprint, seed: bool, now: float | None = None) -> None:
        """Index an article; `now` is when (default: its publication time)."""
        key = self._next
        self._next += 1
        self._members[key] = (story_id, fp, seed)
        if fp.text_hash:
            self._by_hash.setdefault(fp.text_hash, key)
        for band, bucket in zip(self._bands, _band_keys(fp), strict=False):
            held = band.get(bucket)
            if held is None:
                band[bucket] = key
            elif isinstance(held, int):
                band[bucket] = {held, key}
            else:
                held.add(key)
        if seed:
            for word in fp.title_words | fp.names:
                self._by_word.setdefault(word, set()).add(key)
        added = fp.at if now is None else now
        heapq.heappush(self._order, (added, key))
        self._evict(added - 2 * self.window)

    def assign(self, fp: Fingerprint) -> StoryAssignment:
        """The best matching story among the indexed articles within the window, or a new one."""
        best: StoryAssignment | None = None
        for key in self._candidates(fp):
            story_id, member, seed = self._members[key]
            if abs(member.at - fp.at) > self.window:
                continue
            verdict = same_story(fp, member, seed)
            if verdict and (best is None or verdict[1] > best.score):
                best = StoryAssignment(story_id, verdict[0], verdict[1])
        return best or StoryAssignment(None, NEW_STORY)

    def _candidates(self, fp: Fingerprint) -> set[int]:
        found: set[int] = set()
        if fp.text_hash and fp.text_hash in self._by_hash:
            found.add(self._by_hash[fp.text_hash])
        for band, bucket in zip(self._bands, _band_keys(fp), strict=False):
            held = band.get(bucket)
            if isinstance(held, int):
                found.add(held)
            elif held:
                found.update(held)
        shared: dict[int, int] = {}
        for word in fp.title_words | fp.names:
            posting = self._by_word.get(word, ())
            if len(posting) <= self._cap:
                for key in posting:
                    shared[key] = shared.get(key, 0) + 1
        found.update(key for key, count in shared.items() if count >= 2)
        return found

    def _evict(self, horizon: float) -> None:
        while self._order and self._order[0][0] < horizon:
            _, key = heapq.heappop(self._order)
            _, fp, seed = self._members.pop(key)
            if fp.text_hash and self._by_hash.get(fp.text_hash) == key:
                del self._by_hash[fp.text_hash]
            for band, bucket in zip(self._bands, _band_keys(fp), strict=False):
                held = band[bucket]
                if isinstance(held, int) or held == {key}:
                    del band[bucket]
                else:
                    held.discard(key)
            if seed:
                for word in fp.title_words | fp.names:
                    posting = self._by_word.get(word)
                    if posting is not None:
                        posting.discard(key)
                        if not posting:
                            del self._by_word[word]


def _band_keys(fp: Fingerprint) -> list[bytes]:
    """The LSH buckets of an article: its signature cut in LSH_BANDS bands (none without one)."""
    if fp.minhash is None:
        return []
    width = LSH_ROWS * 8
    return [fp.minhash[i * width:(i + 1) * width] for i in range(LSH_BANDS)]
