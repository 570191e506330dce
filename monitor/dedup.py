"""Same story, several outlets: fingerprints and the decision to join an existing story. Pure.

Layers, cheapest first: identical folded text (syndicated wire copies), near-identical text
(MinHash over word shingles, compared as containment so a trimmed copy still joins), then titles
sharing most of their content words (a rewrite of the same dispatch under a new headline). The
same item seen twice, or the same URL with tracking junk, never gets this far: the store's keys
(guid, canonical URL) stop it at the door.
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
TITLE_MIN_SHARED = 3

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


def fingerprint(article: Article) -> Fingerprint:
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
    return Fingerprint(title_words(article.title), text_hash, signature, len(shingles))


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


def title_overlap(a: Fingerprint, b: Fingerprint) -> tuple[float, int]:
    shared = len(a.title_words & b.title_words)
    smaller = min(len(a.title_words), len(b.title_words))
    return (shared / smaller if smaller else 0.0), shared


def same_story(a: Fingerprint, b: Fingerprint) -> tuple[str, float] | None:
    """Why `a` and `b` tell the same story, with a score; None when they don't."""
    if a.text_hash and a.text_hash == b.text_hash:
        return "same-text", 1.0
    containment = text_containment(a, b)
    if containment >= NEAR_COPY:
        return "near-copy", round(containment, 3)
    overlap, shared = title_overlap(a, b)
    if overlap >= TITLE_OVERLAP and shared >= TITLE_MIN_SHARED:
        return "similar-title", round(overlap, 3)
    return None


def assign(article: Fingerprint, recent: Iterable[tuple[int, Fingerprint]]) -> StoryAssignment:
    """The best matching story among `recent` (story id, member fingerprint) pairs, or a new one."""
    best: StoryAssignment | None = None
    for story_id, member in recent:
        verdict = same_story(article, member)
        if verdict and (best is None or verdict[1] > best.score):
            best = StoryAssignment(story_id, verdict[0], verdict[1])
            if best.score >= 1.0:
                break
    return best or StoryAssignment(None, "new")
