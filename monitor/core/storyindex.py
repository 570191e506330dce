"""The recent articles, and the stories they form. Pure (time comes in as values).

Stories are the connected groups of articles that `dedup.same_story` links, among articles
published within the window of each other: the linking of two articles depends on the pair
alone, and each new article is compared with every indexed article it could link to, so the
stories are the same whatever the order of arrival. An article that links to two stories merges
them (a later report bridging two threads of one event); the oldest story keeps its id.

Lookups do not compare an article with all the others: MinHash LSH (bands of the signature)
finds near-copies of its text, and inverted indexes of each article's heaviest terms and of the
events it names find the articles sharing two of those terms or one event. All are symmetric
too (`a` finds `b` exactly when `b` would have found `a`). Articles added more than two
windows ago are forgotten, by the clock of their adding: an undated item seen today must not
push out its story.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from monitor.core import evergreen
from monitor.core.dedup import NEW_STORY, SIMILAR_WORDS, Fingerprint, same_story
from monitor.core.models import StoryAssignment

K = TypeVar("K", str, int)
MIN_TOP_SHARED = 2  # heaviest terms in common for the words to be compared at all
LSH_BANDS, LSH_ROWS = 21, 3  # 63 of the 64 values; a pair with Jaccard 0.3 meets in a band
# with probability 1 - (1 - 0.3**3)**21 = 0.44, at 0.5 in 0.94, at 0.7 in 1.00: loose on purpose,
# LSH only proposes candidates and containment decides (datasketch's choice for threshold 0.3)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent article, member of a story."""

    story_id: int
    fingerprint: Fingerprint


class _Postings(Generic[K]):
    """name → the keys of the articles filed under it, oldest first: the bare key until a
    second arrives, then an array of them. Most names (an LSH bucket, a rare term) hold one
    article; a set per name cost 216 bytes and 30-odd bytes a key, most of the index's memory.
    Articles leave in the order they came (`StoryIndex._evict`), so the key to remove is first
    in its array."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[K, int | array[int]] = {}

    def add(self, name: K, key: int) -> None:
        held = self._held.get(name)
        if held is None:
            self._held[name] = key
        elif isinstance(held, int):
            self._held[name] = array("q", (held, key))
        else:
            held.append(key)

    def get(self, name: K) -> Collection[int]:
        held = self._held.get(name)
        return () if held is None else (held,) if isinstance(held, int) else held

    def discard(self, name: K, key: int) -> None:
        held = self._held.get(name)
        if held == key:
            del self._held[name]
        elif isinstance(held, array) and key in held:
            held.remove(key)
            if len(held) == 1:
                self._held[name] = held[0]


class StoryIndex:
    def __init__(self, window: float) -> None:
        self.window = window
        self._members: dict[int, tuple[int, Fingerprint]] = {}  # key → (story, fingerprint)
        self._by_hash: _Postings[str] = _Postings()
        self._by_band: _Postings[int] = _Postings()  # (band, bucket) hashed
        self._by_term: _Postings[str] = _Postings()
        self._by_event: _Postings[str] = _Postings()
        self._merged: dict[int, int] = {}  # story → the story it was merged into
        self._order: list[tuple[float, int]] = []  # (added, key), a heap for eviction
        self._next = 0

    def __len__(self) -> int:
        return len(self._members)

    @classmethod
    def of(cls, window: float, candidates: Iterable[Candidate],
           now: float | None = None) -> StoryIndex:
        index = cls(window)
        for candidate in candidates:
            index.add(candidate.story_id, candidate.fingerprint, now)
        return index

    def story(self, story_id: int) -> int:
        """The story `story_id` is now part of (itself unless it was merged)."""
        while story_id in self._merged:
            story_id = self._merged[story_id]
        return story_id

    def assign(self, fp: Fingerprint) -> StoryAssignment:
        """The story the article belongs to, and the other stories it bridges into that one."""
        if fp.kind != evergreen.NEWS:
            return StoryAssignment(None, fp.kind)
        best = self._linked(fp)
        if not best:
            return StoryAssignment(None, NEW_STORY)
        into, *others = sorted(best)
        reason, score, key = max(best.values(), key=lambda verdict: verdict[1])
        shared = _shared_terms(fp, self._members[key][1]) if reason == SIMILAR_WORDS else ()
        return StoryAssignment(into, reason, score, tuple(others), shared)

    def related(self, fp: Fingerprint) -> int | None:
        """The story a live page or a bulletin speaks of, judged as if it were news, for its
        alert only: it neither joins nor bridges stories."""
        best = self._linked(replace(fp, kind=evergreen.NEWS))
        return max(best, key=lambda story: (best[story][1], -story)) if best else None

    def _linked(self, fp: Fingerprint) -> dict[int, tuple[str, float, int]]:
        """story → the strongest verdict linking `fp` to one of its indexed articles, and
        that article's key."""
        best: dict[int, tuple[str, float, int]] = {}
        by_text, by_words = self._candidates(fp)
        for key in by_text | by_words:
            story_id, member = self._members[key]
            gap = abs(member.at - fp.at)
            if gap > self.window and not (gap <= 2 * self.window and fp.events & member.events):
                continue  # a named event keeps its story together twice as long
            verdict = same_story(fp, member, texts=key in by_text)
            if verdict:
                story_id = self.story(story_id)
                if story_id not in best or verdict[1] > best[story_id][1]:
                    best[story_id] = (*verdict, key)
        return best

    def add(self, story_id: int, fp: Fingerprint, now: float | None = None) -> None:
        """Index an article; `now` is when (default: its publication time). Dossier and live
        pages are not indexed: nothing can join a story through them."""
        added = fp.at if now is None else now
        self._evict(added - 2 * self.window)
        if fp.kind != evergreen.NEWS:
            return
        key = self._next
        self._next += 1
        fp = _shared_words(fp)
        self._members[key] = (story_id, fp)
        if fp.text_hash:
            self._by_hash.add(fp.text_hash, key)
        for bucket in _band_keys(fp):
            self._by_band.add(bucket, key)
        for term in fp.top:
            self._by_term.add(term, key)
        for event in fp.events:
            self._by_event.add(event, key)
        heapq.heappush(self._order, (added, key))

    def merge(self, into: int, others: Iterable[int]) -> None:
        for other in others:
            other = self.story(other)
            if other != into:
                self._merged[other] = into

    def _candidates(self, fp: Fingerprint) -> tuple[set[int], set[int]]:
        """The articles with the same or a similar text (hash, LSH), and those sharing two of
        its heaviest terms (among their own heaviest: symmetric) or an event it names."""
        by_text: set[int] = set(self._by_hash.get(fp.text_hash)) if fp.text_hash else set()
        for bucket in _band_keys(fp):
            by_text.update(self._by_band.get(bucket))
        hits: Counter[int] = Counter()
        for term in fp.top:
            hits.update(self._by_term.get(term))
        by_words = {key for key, count in hits.items() if count >= MIN_TOP_SHARED}
        for event in fp.events:
            by_words.update(self._by_event.get(event))
        return by_text, by_words

    def _evict(self, horizon: float) -> None:
        while self._order and self._order[0][0] < horizon:
            _, key = heapq.heappop(self._order)
            _, fp = self._members.pop(key)
            if fp.text_hash:
                self._by_hash.discard(fp.text_hash, key)
            for bucket in _band_keys(fp):
                self._by_band.discard(bucket, key)
            for term in fp.top:
                self._by_term.discard(term, key)
            for event in fp.events:
                self._by_event.discard(event, key)


SHOWN_TERMS = 4  # terms in common an explanation names


def _shared_terms(a: Fingerprint, b: Fingerprint) -> tuple[str, ...]:
    """The terms that made two articles similar, those that weigh most in their cosine first
    (ties by the term: the same explanation whatever the order of the words)."""
    common = a.vector.keys() & b.vector.keys()
    return tuple(sorted(common, key=lambda t: (-a.vector[t] * b.vector[t], t))[:SHOWN_TERMS])


def _shared_words(fp: Fingerprint) -> Fingerprint:
    """The fingerprint with its words interned: each article came with strings of its own
    (unpickled from a worker, or read from the database) for words most others share."""
    intern = sys.intern
    return replace(fp, vector={intern(term): weight for term, weight in fp.vector.items()},
                   top=tuple(map(intern, fp.top)), events=frozenset(map(intern, fp.events)))


def _band_keys(fp: Fingerprint) -> list[int]:
    """The LSH buckets of an article: its signature cut in LSH_BANDS bands, each bucket named
    by a hash of its band's number and values (an int: a bytes key cost 57 bytes a band; the
    index lives in one process, so Python's hash will do). None without a signature."""
    if fp.minhash is None:
        return []
    width = LSH_ROWS * 8
    return [hash((i, fp.minhash[i * width:(i + 1) * width])) for i in range(LSH_BANDS)]
