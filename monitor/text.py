"""French-aware text folding: the one place that decides when two spellings are the same word.

Text and rule terms go through the same `fold`, so « l’Ukraine », « UKRAINE » and « d'Ukraine » all
contain the word `ukraine`, and `desescalade` meets « désescalade ». Folding works on word tokens:
each token is lower-cased, stripped of accents, ligatures are opened (œ → oe), and French elided
articles and pronouns (l’, d’, qu’, jusqu’ …) are dropped. Tokens are joined by single spaces, so
punctuation and hyphens become word boundaries (« Jean-Yves » = « Jean Yves »).

Every folded token remembers its span in the original text, so a match on the folded text can be
shown to a person in the words they wrote.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

# Letters and digits; the underscore is a separator for our purposes.
_WORD = re.compile(r"[^\W_]+")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = frozenset("'’ʼ‘`´")
# Elided forms, folded, that are dropped when an apostrophe joins them to the next word.
ELISIONS = frozenset(
    {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu"}
)
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ĳ": "ij", "ø": "o"})


@lru_cache(maxsize=131072)
def fold_word(word: str) -> str:
    """Lower-case, unaccented, ligature-free form of one word (cached: news vocabulary repeats)."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text plus the way back: token `i` is `text[starts[i]:]` and came from `spans[i]`."""

    text: str
    starts: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) range of folded text to the original text it came from."""
        first = bisect_right(self.starts, start) - 1
        last = bisect_right(self.starts, max(start, end - 1)) - 1
        return self.spans[first][0], self.spans[last][1]

    @property
    def words(self) -> int:
        return len(self.starts)


def fold(text: str) -> Folded:
    """Fold `text` into space-separated word tokens, dropping elisions (see module doc)."""
    tokens: list[str] = []
    starts: list[int] = []
    spans: list[tuple[int, int]] = []
    position = 0
    length = len(text)
    for found in _WORD.finditer(text):
        start, end = found.span()
        word = fold_word(found.group())
        if not word:
            continue
        if (
            word in ELISIONS
            and end + 1 < length
            and text[end] in _APOSTROPHES
            and text[end + 1].isalnum()
        ):
            continue
        for piece in word.split():  # NFKD may open a character into several words
            tokens.append(piece)
            starts.append(position)
            spans.append((start, end))
            position += len(piece) + 1
    return Folded(" ".join(tokens), tuple(starts), tuple(spans))


def fold_term(term: str) -> str:
    """The folded form of a rule term or phrase; empty when it has no letters or digits."""
    return fold(term).text


def plural_forms(folded: str, max_words: int = 4) -> list[str]:
    """A folded term in the singular and plural of its content words: `missile balistique` →
    also `missiles balistiques`; `cheval` → `chevaux`; `missiles` → also `missile`. Only the
    first `max_words` words of 3 letters or more vary (short words are articles, prepositions)."""
    options = []
    varied = 0
    for word in folded.split():
        if len(word) >= 3 and varied < max_words and not word.isdigit():
            options.append(sorted(_inflections(word)))
            varied += 1
        else:
            options.append([word])
    return sorted({" ".join(choice) for choice in product(*options)})


def _inflections(word: str) -> set[str]:
    forms = {word}
    if word.endswith("aux") and len(word) > 4:
        forms.add(word[:-3] + "al")
    elif word.endswith(("eaux", "eux", "aux")):
        forms.add(word[:-1])
    elif word.endswith("al"):
        forms.add(word[:-2] + "aux")
    elif word.endswith(("eau", "eu", "au")):
        forms.add(word + "x")
    elif word.endswith("s") and len(word) > 3:
        forms.add(word[:-1])
    elif not word.endswith(("x", "z")):
        forms.add(word + "s")
    return forms


def snippet(text: str, spans: list[tuple[int, int]], width: int = 240, mark: str = "**") -> str:
    """About `width` characters of `text` around the first span, every span inside wrapped in
    `mark`, whitespace collapsed, cut on word boundaries."""
    if not spans:
        return _SPACES.sub(" ", text[:width]).strip() + (" …" if len(text) > width else "")
    spans = sorted(spans)
    start, end = spans[0]
    room = max(0, width - (end - start)) // 2
    left = max(0, start - room)
    right = min(len(text), max(end + room, left + width))
    while left > 0 and not text[left - 1].isspace() and start - left < room + 20:
        left -= 1
    while right < len(text) and not text[right].isspace() and right - end < room + 20:
        right += 1
    parts, cursor = [], left
    for first, last in spans:
        if first < cursor or last > right:
            continue
        parts += [text[cursor:first], mark, text[first:last], mark]
        cursor = last
    parts.append(text[cursor:right])
    head = "… " if left > 0 else ""
    tail = " …" if right < len(text) else ""
    return head + _SPACES.sub(" ", "".join(parts)).strip() + tail
