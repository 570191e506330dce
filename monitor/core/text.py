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
from functools import lru_cache
from itertools import accumulate, chain, product

# What comes before a word, the word (letters and digits; the underscore is a separator for our
# purposes), and the apostrophe that may follow it when a word follows (« l'Ukraine »: the word
# may be an elision). The three parts' lengths give every word's place in the text.
_TOKEN = re.compile(r"([\W_]*)([^\W_]+)(['’ʼ‘`´](?=[^\W_]))?")
_SPACES = re.compile(r"\s+")
# Elided forms, folded, that are dropped when an apostrophe joins them to the next word.
ELISIONS = frozenset(
    {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu"}
)
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ĳ": "ij", "ø": "o"})


# The word caches (this one, `terms.term`, `terms.stem`, `events._telling`) keep the frequent
# words only: two months of news hold about 60,000 distinct ones, and caching them all kept 23 MB
# more in each process for 15 % less CPU on words (`bench/words.py`).
@lru_cache(maxsize=16384)
def fold_word(word: str) -> str:
    """Lower-case, unaccented, ligature-free form of one word (cached: news vocabulary repeats)."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


class Folded:
    """Folded text plus the way back: token `i` is `text[starts[i]:]` and came from `spans[i]`.
    The way back is worked out when first asked for: only texts with a hit need it."""

    __slots__ = ("text", "_source", "_parts", "_dropped", "_split", "_starts", "_spans")

    def __init__(self, text: str, source: str, parts: list[tuple[str, str, str]],
                 dropped: list[int], split: bool) -> None:
        self.text = text
        self._source = source
        self._parts = parts  # (gap, word, apostrophe) of the source, until mapped
        self._dropped = dropped  # source words that left no folded word (elisions)
        self._split = split  # some source word folded into several words, or into spaces
        self._starts: list[int] | None = None
        self._spans: list[tuple[int, int]] = []

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._map()
        return self._starts  # type: ignore[return-value]

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self._starts is None:
            self._map()
        return self._spans

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) range of folded text to the original text it came from."""
        return self.locate(start, end)[:2]

    def locate(self, start: int, end: int) -> tuple[int, int, int]:
        """(original start, original end, index of the first word) of a [start, end) range of
        folded text. Called for every occurrence a rule looks at: kept to plain lookups."""
        if self._starts is None:
            self._map()
        starts, spans = self._starts, self._spans
        first = bisect_right(starts, start) - 1  # type: ignore[arg-type]
        last = bisect_right(starts, max(start, end - 1)) - 1  # type: ignore[arg-type]
        return spans[first][0], spans[last][1], first

    @property
    def words(self) -> int:
        return len(self.starts)

    def _map(self) -> None:
        """Offsets by running sums of lengths (no Python step per word): in the source, of each
        (gap, word, apostrophe) part; in the folded text, of each token."""
        if self._split:
            self._map_word_by_word()
            return
        tokens = self.text.split(" ") if self.text else []
        offsets = list(accumulate(map(len, chain.from_iterable(self._parts)), initial=0))
        self._parts = []
        spans = list(zip(offsets[1::3], offsets[2::3], strict=False))
        for index in reversed(self._dropped):
            del spans[index]
        ends = accumulate(map(len, tokens))
        self._starts = [0, *(end + number for number, end in enumerate(ends, 1))][:len(tokens)]
        self._spans = spans

    def _map_word_by_word(self) -> None:
        starts: list[int] = []
        spans: list[tuple[int, int]] = []
        position = 0
        for found in _TOKEN.finditer(self._source):
            word = fold_word(found[2])
            if not word or (found[3] and word in ELISIONS):
                continue
            for piece in word.split():  # NFKD may open a character into several words
                starts.append(position)
                spans.append(found.span(2))
                position += len(piece) + 1
        self._starts, self._spans = starts, spans


def fold(text: str) -> Folded:
    """Fold `text` into space-separated word tokens, dropping elisions (see module doc)."""
    words = []
    dropped = []
    parts = _TOKEN.findall(text)
    for index, (_, word, apostrophe) in enumerate(parts):
        folded = fold_word(word)
        if folded and not (apostrophe and folded in ELISIONS):
            words.append(folded)
        else:
            dropped.append(index)
    joined = " ".join(words)
    split = joined.count(" ") != max(0, len(words) - 1)  # NFKD opened a space in a word
    if split:
        joined = " ".join(joined.split())
    return Folded(joined, text, parts, dropped, split)


def fold_term(term: str) -> str:
    """The folded form of a rule term or phrase; empty when it has no letters or digits."""
    return fold(term).text


def title_words(title: str) -> str:
    """A title folded and framed by spaces, stored so that `LIKE '% word %'` finds a whole
    folded word in plain SQL (folding each title at query time was too slow for the console)."""
    folded = fold_term(title)
    return f" {folded} " if folded else ""


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
    `mark`, whitespace collapsed; cut at a sentence's end where one is near, else between
    words, never inside one. A line break after a line that does not end a sentence (a
    headline, a kicker) reads as a dash, not as words run together."""
    if not spans:
        start = end = 0
        left, right = 0, min(len(text), width)
    else:
        spans = sorted(spans)
        start, end = spans[0]
        room = max(0, width - (end - start)) // 2
        left = max(0, start - room)
        right = min(len(text), max(end + room, left + width))
    last = max((span_end for _, span_end in spans if span_end <= right), default=end)
    left, right = _word_start(text, left, start), _word_end(text, right, last)
    parts, cursor = [], left
    for first, final in spans:
        if first < cursor or final > right:
            continue
        parts += [text[cursor:first], mark, text[first:final], mark]
        cursor = final
    parts.append(text[cursor:right])
    head = "… " if left > 0 else ""
    tail = " …" if right < len(text) else ""
    body = _RUN_ON.sub(" — ", "".join(parts).strip())
    return head + _SPACES.sub(" ", body).strip() + tail


_RUN_ON = re.compile(r"(?<=[^\s.!?:;…»”\"'])[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…»](?=\s)")


def _word_start(text: str, left: int, keep: int) -> int:
    """`left` moved to the start of a sentence just after it, else of the next word, never past
    `keep`."""
    if left == 0:
        return 0
    window = text[left:keep]
    sentence = _SENTENCE_END.search(window)
    if sentence and sentence.end() < len(window) // 2:
        left += sentence.end()
    elif not text[left - 1].isspace():
        space = next((i for i in range(left, keep) if text[i].isspace()), keep)
        left = space
    while left < keep and text[left].isspace():
        left += 1
    return left


def _word_end(text: str, right: int, keep: int) -> int:
    """`right` moved back to the end of the last sentence within the second half of the
    excerpt, else of the last whole word, never before `keep`."""
    if right >= len(text):
        return len(text)
    ends = [found.end() for found in _SENTENCE_END.finditer(text, keep, right)]
    if ends and ends[-1] >= keep + (right - keep) // 2:
        return ends[-1]
    if text[right].isspace():
        return right
    space = max((i for i in range(keep, right) if text[i].isspace()), default=keep)
    return max(space, keep)
