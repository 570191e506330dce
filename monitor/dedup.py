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
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from monitor.models import Article, StoryAssignment
from monitor.text import fold

NUM_PERM = 64
SHINGLE = 4  # words
MIN_SHINGLES = 20  # below this a text is a teaser: its fingerprint says little
MIN_EXACT_CHARS = 200
NEAR_COPY = 0.6  # containment of the shorter text's shingles in the longer one
TITLE_OVERLAP = 0.6  # shared content words / words of the shorter title
TITLE_JACCARD = 0.45  # shared content words / all content words of both titles
TITLE_MIN_SHARED = 3
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


def fingerprint(article: Article, seen_at: float) -> Fingerprint:
    body = article.text if article.source == "page" else f"{article.title} {article.summary}"
    words = fold(body).text.split()
    folded = " ".join(words)
    text_hash = hashlib.sha256(folded.encode()).hexdigest() if len(folded) >= MIN_EXACT_CHARS else None
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(0, len(words) - SHINGLE + 1))}
    signature = None
    if len(shingles) >= MIN_SHINGLES:
        minhash = MinHash(num_perm=NUM_PERM, seed=7)
        minhash.update_batch([s.encode() for s in shingles])
        signature = minhash.hashvalues.astype("<u8").tobytes()
    at = article.published.timestamp() if article.published else seen_at
    return Fingerprint(title_words(article.title), text_hash, signature, len(shingles), at)


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


def same_story(a: Fingerprint, b: Fingerprint, by_title: bool = True) -> tuple[str, float] | None:
    """Why `a` and `b` tell the same story, with a score; None when they don't."""
    if a.text_hash and a.text_hash == b.text_hash:
        return "same-text", 1.0
    containment = text_containment(a, b)
    if containment >= NEAR_COPY:
        return "near-copy", round(containment, 3)
    overlap = similar_titles(a, b) if by_title else None
    if overlap is not None:
        return "similar-title", round(overlap, 3)
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent article, member of a story; `seed` when it is the story's first article."""

    story_id: int
    fingerprint: Fingerprint
    seed: bool


def assign(article: Fingerprint, recent: Iterable[Candidate], window: float) -> StoryAssignment:
    """The best matching story among recent articles published within `window` seconds of this
    one, or a new story."""
    best: StoryAssignment | None = None
    for candidate in recent:
        member = candidate.fingerprint
        if abs(member.at - article.at) > window:
            continue
        verdict = same_story(article, member, by_title=candidate.seed)
        if verdict and (best is None or verdict[1] > best.score):
            best = StoryAssignment(candidate.story_id, verdict[0], verdict[1])
            if best.score >= 1.0:
                break
    return best or StoryAssignment(None, NEW_STORY)
