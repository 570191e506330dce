"""The compiled form of rules and their evaluation against one article. Pure.

A rule is a tree: groups (`all`, `any`, `none`) over terms (words and phrases, regular
expressions, proximity, named entities). Evaluation works on a `Scan`: the article's fields folded
once, and every occurrence of every word term of every rule found in one Aho-Corasick pass. A
node's evaluation returns the hits that make it true (its explanation), or None when it is false.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import regex

from monitor.core.models import Article, Hit
from monitor.core.text import Folded

log = logging.getLogger(__name__)

FIELDS: Final = ("title", "summary", "text")
EntitySpans = Mapping[str, Sequence[tuple[int, int, str]]]  # field → (start, end, label)
Occurrences = dict[str, list[tuple[int, int]]]  # folded term → [(start, end)] in folded text
# A user's regular expression may backtrack for ever on some text ((a+)+$): each search stops
# after this many seconds and counts as not found, named in `Scan.timeouts`.
REGEX_TIME_LIMIT = 1.0


@dataclass
class Scan:
    """An article as the rules see it. `labels` (named entities per field) is filled only when an
    entity rule needs it, since recognising entities costs far more than everything else."""

    article: Article
    texts: dict[str, str]
    folded: dict[str, Folded]
    found: dict[str, Occurrences]
    labels: EntitySpans | None = None
    timeouts: list[str] = field(default_factory=list)  # the regexes that ran out of time
    cut: dict[str, int] = field(default_factory=dict)  # field → its length, when cut to MAX_CHARS
    _regex_cache: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def occurrences(self, forms: Sequence[str], fields: frozenset[str]) -> list[tuple[str, int, int, int]]:
        """(field, original start, original end, word index) of every occurrence of `forms`."""
        out: list[tuple[str, int, int, int]] = []
        for name in FIELDS:
            if name not in fields:
                continue
            found = self.found[name]
            folded = self.folded[name]
            for form in forms:
                for start, end in found.get(form, ()):
                    out.append((name, *folded.locate(start, end)))
        return out

    def regex(self, pattern: regex.Pattern[str], name: str) -> list[tuple[int, int]]:
        key = (pattern.pattern, name)
        if key not in self._regex_cache:
            try:  # concurrent: the GIL is released, the daemon's other threads go on meanwhile
                spans = [m.span() for m in pattern.finditer(
                    self.texts[name], timeout=REGEX_TIME_LIMIT, concurrent=True)
                    if m.end() > m.start()]
            except TimeoutError:
                log.warning("regex /%s/ gave up on the %s of %s after %.0f s (it backtracks "
                            "without end on such text): counted as not found", pattern.pattern,
                            name, self.article.url or self.article.title[:60], REGEX_TIME_LIMIT)
                self.timeouts.append(f"/{pattern.pattern}/ ({name})")
                spans = []
            self._regex_cache[key] = spans
        return self._regex_cache[key]


class Node(ABC):
    @abstractmethod
    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        """The hits that make this node true in `fields`, or None when it is false."""

    def words(self) -> list[str]:
        """Folded forms this node needs the automaton to find."""
        return []

    def always_evaluated(self) -> bool:
        """True when the node can hold without any automaton hit (a regular expression)."""
        return False


@dataclass(frozen=True)
class Words(Node):
    """A word or phrase, in one or more folded forms (plural variants), `min_count` times."""

    display: str
    forms: tuple[str, ...]
    min_count: int = 1

    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        found = scan.occurrences(self.forms, fields)
        if len(found) < self.min_count:
            return None
        return [Hit(self.display, name, start, end) for name, start, end, _ in found]

    def words(self) -> list[str]:
        return list(self.forms)


@dataclass(frozen=True)
class Pattern(Node):
    """A regular expression over the original text (case-insensitive unless it says otherwise)."""

    display: str
    pattern: regex.Pattern[str]

    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        hits = [Hit(self.display, name, start, end) for name in FIELDS if name in fields
                for start, end in scan.regex(self.pattern, name)]
        return hits or None

    def always_evaluated(self) -> bool:
        return True


@dataclass(frozen=True)
class Near(Node):
    """All its terms within `within` words of each other, in the same field."""

    terms: tuple[Words, ...]
    within: int

    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        for name in FIELDS:
            if name not in fields:
                continue
            per_term = [scan.occurrences(term.forms, frozenset((name,))) for term in self.terms]
            if not all(per_term):
                continue
            window = _closest(per_term, self.within)
            if window is not None:
                return [Hit(term.display, name, start, end)
                        for term, (_, start, end, _) in zip(self.terms, window, strict=True)]
        return None

    def words(self) -> list[str]:
        return [form for term in self.terms for form in term.forms]


def _closest(per_term: list[list[tuple[str, int, int, int]]],
             within: int) -> list[tuple[str, int, int, int]] | None:
    """One occurrence of each term, all within `within` words, if there is such a choice:
    a sliding window over all occurrences sorted by word position."""
    merged = sorted((occ[3], index, occ) for index, occs in enumerate(per_term) for occ in occs)
    latest: dict[int, tuple[str, int, int, int]] = {}
    for position, index, occ in merged:
        latest[index] = occ
        if len(latest) == len(per_term) and position - min(o[3] for o in latest.values()) <= within:
            return [latest[i] for i in range(len(per_term))]
    return None


@dataclass(frozen=True)
class Entity(Node):
    """One of `names` where the entity recogniser sees an entity of kind `label` (PER, LOC…)."""

    label: str
    names: Words

    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        if scan.labels is None:
            return None
        hits = []
        for name, start, end, _ in scan.occurrences(self.names.forms, fields):
            spans = scan.labels.get(name, ())
            if any(label == self.label and s <= start and end <= e for s, e, label in spans):
                hits.append(Hit(self.names.display, name, start, end))
        return hits or None

    def words(self) -> list[str]:
        return list(self.names.forms)


@dataclass(frozen=True)
class Group(Node):
    """`all`: every child holds; `any`: at least one does; `none`: no child does."""

    op: str
    children: tuple[Node, ...]

    def evaluate(self, scan: Scan, fields: frozenset[str]) -> list[Hit] | None:
        hits: list[Hit] = []
        if self.op == "all":
            for child in self.children:
                found = child.evaluate(scan, fields)
                if found is None:
                    return None
                hits += found
            return hits
        results = [child.evaluate(scan, fields) for child in self.children]
        held = [found for found in results if found is not None]
        if self.op == "none":
            return None if held else []
        return [hit for found in held for hit in found] if held else None

    def words(self) -> list[str]:
        return [form for child in self.children for form in child.words()]

    def always_evaluated(self) -> bool:
        return any(child.always_evaluated() for child in self.children)

    def has_entities(self) -> bool:
        return any(isinstance(c, Entity) or (isinstance(c, Group) and c.has_entities())
                   for c in self.children)
