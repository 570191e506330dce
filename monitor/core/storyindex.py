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

import hashlib
import heapq
import sys
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

from monitor.core import evergreen
from monitor.core.dedup import NEW_STORY, SIMILAR_WORDS, Fingerprint, same_story
from monitor.core.models import StoryAssignment

MIN_TOP_SHARED = 2  # heaviest terms in common for the words to be compared at all
LSH_BANDS, LSH_ROWS = 21, 3  # 63 of the 64 values; a pair with Jaccard 0.3 meets in a band
# with probability 1 - (1 - 0.3**3)**21 = 0.44, at 0.5 in 0.94, at 0.7 in 1.00: loose on purpose,
# LSH only proposes candidates and containment decides (datasketch's choice for threshold 0.3)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent article, member of a story."""

    story_id: int
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class Lookup:
    """The names an article is filed and looked up under (`name`): stable numbers, the same in
    every process, so that the database can hold them (`store.stories`)."""

    text: tuple[int, ...]  # its text's hash and LSH buckets: who shares one is compared by text
    terms: tuple[int, ...]  # its heaviest terms: two in common make a candidate
    events: tuple[int, ...]  # the events it names: one in common makes a candidate

    def names(self) -> list[int]:
        return [*self.text, *self.terms, *self.events]


def lookup(fp: Fingerprint) -> Lookup:
    """What `fp` is filed under; nothing for a dossier, a live page or a bulletin. (Cached: the
    daemon looks an article up, then files it, under the same names.)"""
    if fp.kind != evergreen.NEWS:
        return Lookup((), (), ())
    return _lookup(fp.text_hash, fp.minhash, fp.top, fp.events)


@lru_cache(maxsize=1024)
def _lookup(text_hash: str | None, minhash: bytes | None, top: tuple[str, ...],
            events: frozenset[str]) -> Lookup:
    text = [name(b"h" + text_hash.encode())] if text_hash else []
    if minhash is not None:
        width = LSH_ROWS * 8
        text += [name(b"b%d" % i + minhash[i * width:(i + 1) * width]) for i in range(LSH_BANDS)]
    return Lookup(tuple(text), tuple(name(b"t" + term.encode()) for term in top),
                  tuple(name(b"e" + event.encode()) for event in sorted(events)))


def name(key: bytes) -> int:
    """A signed 64-bit name for a key (a posting's column in the database)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little", signed=True)


class Filed(Protocol):
    """name → the keys of the articles filed under it."""

    def get(self, name: int, default: Collection[int], /) -> Collection[int]: ...


def candidates(found: Lookup, filed: Filed) -> tuple[set[int], set[int]]:
    """The articles with the same or a similar text (hash, LSH), and those sharing two of its
    heaviest terms (among their own heaviest: symmetric) or an event it names, from what is
    filed under each of its names."""
    by_text: set[int] = set()
    for text in found.text:
        by_text.update(filed.get(text, ()))
    hits: Counter[int] = Counter()
    for term in found.terms:
        hits.update(filed.get(term, ()))
    by_words = {key for key, count in hits.items() if count >= MIN_TOP_SHARED}
    for event in found.events:
        by_words.update(filed.get(event, ()))
    return by_text, by_words


Verdicts = dict[int, tuple[str, float, int]]  # story → (reason, score, the member's key)


def linked(fp: Fingerprint, members: Mapping[int, tuple[int, Fingerprint]], by_text: set[int],
           window: float) -> Verdicts:
    """story → the strongest verdict linking `fp` to one of the members (key → (story as it
    is now, fingerprint)), and that member's key. Ties go to the lower key: the same verdict
    whatever order the members come in."""
    best: Verdicts = {}
    for key in sorted(members):
        story_id, member = members[key]
        gap = abs(member.at - fp.at)
        if gap > window and not (gap <= 2 * window and fp.events & member.events):
            continue  # a named event keeps its story together twice as long
        verdict = same_story(fp, member, texts=key in by_text)
        if verdict and (story_id not in best or verdict[1] > best[story_id][1]):
            best[story_id] = (*verdict, key)
    return best


def assignment(fp: Fingerprint, best: Verdicts,
               members: Mapping[int, tuple[int, Fingerprint]]) -> StoryAssignment:
    """The story of an article linked to the stories of `best`: the oldest of them, which the
    others merge into; the strongest link is its reason."""
    if not best:
        return StoryAssignment(None, NEW_STORY)
    into, *others = sorted(best)
    reason, score, key = max(best.values(), key=lambda verdict: verdict[1])
    shared = _shared_terms(fp, members[key][1]) if reason == SIMILAR_WORDS else ()
    return StoryAssignment(into, reason, score, tuple(others), shared)


def related_story(best: Verdicts) -> int | None:
    """The story a live page or a bulletin speaks of: the most strongly linked."""
    return max(best, key=lambda story: (best[story][1], -story)) if best else None


class _Postings:
    """name → the keys of the articles filed under it, oldest first: the bare key until a
    second arrives, then an array of them. Most names (an LSH bucket, a rare term) hold one
    article; a set per name cost 216 bytes and 30-odd bytes a key, most of the index's memory.
    Articles leave in the order they came (`StoryIndex._evict`), so the key to remove is first
    in its array."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[int, int | array[int]] = {}

    def add(self, name: int, key: int) -> None:
        held = self._held.get(name)
        if held is None:
            self._held[name] = key
        elif isinstance(held, int):
            self._held[name] = array("q", (held, key))
        else:
            held.append(key)

    def get(self, name: int, default: Collection[int] = ()) -> Collection[int]:
        held = self._held.get(name)
        return default if held is None else (held,) if isinstance(held, int) else held

    def discard(self, name: int, key: int) -> None:
        held = self._held.get(name)
        if held == key:
            del self._held[name]
        elif isinstance(held, array) and key in held:
            held.remove(key)
            if len(held) == 1:
                self._held[name] = held[0]


class StoryIndex:
    """The stories of recent articles, held in memory: what the benches and tests measure the
    method with. The daemon keeps the same postings in its database (`store.stories`), where
    they cost its memory nothing and every instance sees them."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._members: dict[int, tuple[int, Fingerprint]] = {}  # key → (story, fingerprint)
        self._filed = _Postings()
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
        best, members = self._linked(fp)
        return assignment(fp, best, members)

    def related(self, fp: Fingerprint) -> int | None:
        """The story a live page or a bulletin speaks of, judged as if it were news, for its
        alert only: it neither joins nor bridges stories."""
        return related_story(self._linked(replace(fp, kind=evergreen.NEWS))[0])

    def _linked(self, fp: Fingerprint) -> tuple[Verdicts, dict[int, tuple[int, Fingerprint]]]:
        by_text, by_words = candidates(lookup(fp), self._filed)
        members = {key: (self.story(self._members[key][0]), self._members[key][1])
                   for key in by_text | by_words}
        return linked(fp, members, by_text, self.window), members

    def add(self, story_id: int, fp: Fingerprint, now: float | None = None) -> None:
        """Index an article; `now` is when (default: its publication time). Dossier and live
        pages are not indexed: nothing can join a story through them."""
        added = fp.at if now is None else now
        self._evict(added - 2 * self.window)
        if fp.kind != evergreen.NEWS:
            return
        key = self._next
        self._next += 1
        self._members[key] = (story_id, _shared_words(fp))
        for filed in lookup(fp).names():
            self._filed.add(filed, key)
        heapq.heappush(self._order, (added, key))

    def merge(self, into: int, others: Iterable[int]) -> None:
        for other in others:
            other = self.story(other)
            if other != into:
                self._merged[other] = into

    def _evict(self, horizon: float) -> None:
        while self._order and self._order[0][0] < horizon:
            _, key = heapq.heappop(self._order)
            _, fp = self._members.pop(key)
            for filed in lookup(fp).names():
                self._filed.discard(filed, key)


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
