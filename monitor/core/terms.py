"""Weighted terms of a news text, for telling whether two articles tell one story. Pure.

A term is a French word stemmed (Snowball: « présidente », « présidents » → `president`), then
unaccented: stemming comes first because folding changes the stems. Its weight is how rare the
word is in French at large (wordfreq's Zipf scale: 7 for « le », 0 for a word it never saw), not
in the articles seen so far: a weight that depends on what arrived before would make which story
an article joins depend on the order of arrival. Words as common as « faire » say nothing about
which story it is and are left out; the weight stops at HEAVIEST, because the rarest words of a
headline are as often a writer's style (« mastodonte », « raout ») as the story's own names
(measured on the labelled real day: a ceiling of 4 instead of 7 took pairwise precision from
0.86 to 1.00 on our set and recall from 0.17 to 0.22 at precision 0.93 on the real day).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import Stemmer

from monitor.core.text import ELISIONS, fold_word

COMMON = 5.6  # Zipf frequency at or above which a word is left out (« faire » 5.9, « France » 6.0)
RAREST = 7.0  # the Zipf scale's top: a word's weight is how far below it the word sits
HEAVIEST = 4.0  # the ceiling of a word's weight (a word at Zipf 3 or rarer)
TITLE_BOOST = 2.0  # a headline word says more about the story than a word of the summary
_WORD = re.compile(r"[^\W_]+(?:['’ʼ](?=[^\W_]))?")
_STEMMER = Stemmer.Stemmer("french")

Vector = dict[str, float]
# A headline's leading genre label: « REPORTAGE. », « EN IMAGES. », « INFO BFMTV - ». Not any
# capitals: « LVMH : », « PSG - OM » are what the story is about.
_LABEL = re.compile(
    r"^(?:(?:EN IMAGES|VID[ÉE]OS?|REPORTAGE|INFO [A-Z0-9 ]+|EXCLUSIF|ENQU[ÊE]TE|TRIBUNE|[ÉE]DITO"
    r"|PORTRAIT|D[ÉE]CRYPTAGE|(?:GRAND )?ENTRETIEN|INTERVIEW|T[ÉE]MOIGNAGE|R[ÉE]CIT|ANALYSE"
    r"|CHRONIQUE|INFOGRAPHIE|CARTE|QUIZ|REPLAY|SONDAGE(?: [A-Z0-9]+)?|PHOTOS?|AUDIO)"
    r"\s*[.:–—-]\s+)+")


def headline(title: str) -> str:
    """The headline without its leading genre label: what the story, not the section, says."""
    return _LABEL.sub("", title)


def load_frequencies() -> None:
    """Loads wordfreq's French table (3 MB), once: the workers' fork server calls it so that
    every worker shares its pages instead of loading its own copy. And shrinks wordfreq's own
    cache of lookups (100,000 before it empties), which `term`'s and `_telling`'s caches in
    front of it leave little to do."""
    import wordfreq

    wordfreq.get_frequency_dict("fr", "small")
    wordfreq.CACHE_SIZE = 4096


@lru_cache(maxsize=16384)
def term(word: str) -> tuple[str, float] | None:
    """(stem, weight) of one word, None when it is too common to tell stories apart. Digits
    weigh as a rare word: « 109 milliards », « 11 ans » pin a story down."""
    lower = word.lower()
    if lower.isdigit():
        return (lower, HEAVIEST / 2) if len(lower) >= 2 else None
    import wordfreq  # here: the daemon's process never weighs words (15 MB it need not load)

    zipf = wordfreq.zipf_frequency(lower, "fr", wordlist="small")
    if zipf >= COMMON or len(lower) < 2:
        return None
    return stem(lower), max(0.5, min(HEAVIEST, RAREST - zipf))


def words(text: str) -> list[str]:
    """The words of a text, elided articles (« l’ », « qu’ ») dropped."""
    return [word for word, _, _ in word_spans(text)]


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """`words`, each with where it starts and ends in `text`."""
    out = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word[-1] in "'’ʼ":
            if fold_word(word[:-1]) in ELISIONS:
                continue
            word = word[:-1]
        out.append((word, match.start(), match.start() + len(word)))
    return out


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A word's term, however common: what `term` would name it (no word list needed)."""
    lower = word.lower()
    return lower if lower.isdigit() else fold_word(_STEMMER.stemWord(lower))


def vector(title: str, lead: str, ignore: frozenset[str] = frozenset()) -> Vector:
    """The weighted terms of a headline and its lead, scaled to unit length (so the dot product
    of two vectors is their cosine). A term counts once per part: a long lead repeating a word
    is not more about it. `ignore`: folded words to leave out (the outlet's own name)."""
    return vector_as_written(title, lead, ignore)[0]


def vector_as_written(title: str, lead: str, ignore: frozenset[str] = frozenset()
                      ) -> tuple[Vector, dict[str, str]]:
    """`vector`, and each of its terms as written: the first word of the headline, else of the
    lead, that gave it (`retailleau` → « Retailleau »), for a reader who has no use for stems."""
    weights: Vector = {}
    written: dict[str, str] = {}
    for part, boost in ((lead, 1.0), (title, TITLE_BOOST)):
        seen = set()
        for word in words(part):
            found = term(word) if fold_word(word) not in ignore else None
            if found and found[0] not in seen:
                seen.add(found[0])
                weights[found[0]] = weights.get(found[0], 0.0) + found[1] * boost
                written[found[0]] = word  # the headline's, read last, wins
    norm = math.sqrt(sum(w * w for w in weights.values()))
    if not norm:
        return {}, {}
    return {t: round(w / norm, 4) for t, w in weights.items()}, written


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b[t] for t, w in a.items() if t in b)


def top_terms(v: Vector, count: int) -> tuple[str, ...]:
    """The `count` heaviest terms (ties by the term itself, so the choice never depends on the
    order of the words): what an article is indexed and looked up by."""
    return tuple(sorted(v, key=lambda t: (-v[t], t))[:count])
