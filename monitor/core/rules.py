"""The rule language and a compiled `RuleSet` that matches an article (files are read and compiled
by `rulefiles`).

The language (documented in rules/README.md, schema in rules/schema.json): a rule has `all`, `any`
and `none` lists of terms; a term is a word or phrase, or a mapping: `{phrase: …}`,
`{term: …, plural: true, min_count: 2}`, `{regex: …}`, `{near: {terms: […], within: 8}}`,
`{entity: PER, names: […]}`, or a nested group `{all|any|none: […]}`. `entities: {PER: […]}` at
the rule level requires each kind listed.

All word forms of all rules go into a single Aho-Corasick automaton over the folded text (see
`text.fold`), so one pass over an article finds every term of every rule, and only the rules with
a term found (or a regex) are evaluated: 10,000 terms cost about what 10 do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import ahocorasick
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from monitor.core.matching import FIELDS, Entity, EntitySpans, Group, Node, Scan
from monitor.core.models import Article, Hit, Match, Priority
from monitor.core.spread import Spread
from monitor.core.text import fold
from monitor.core.units import parse_duration

FieldName = Literal["title", "summary", "text"]
TERM_KEYS = ("phrase", "term", "regex", "near", "entity", "all", "any", "none")
# What matching reads of each field: far beyond a real headline, lead or article (the longest
# pages of the real corpus are about 60,000 characters).
MAX_CHARS = {"title": 2_000, "summary": 50_000, "text": 300_000}
MAX_PLURAL_WORDS = 4  # a phrase's content words inflected together (2**4 forms at most)


class SpreadSpec(BaseModel):
    """`spread: {outlets: 3, within: 2h}`: be told once when a story the rule matched is carried
    by that many outlets within that time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outlets: int = Field(ge=2)
    within: Annotated[float, BeforeValidator(parse_duration)] = Field(gt=0)

    def compiled(self) -> Spread:
        return Spread(self.outlets, self.within)


class RuleSpec(BaseModel):
    """A rule's keys as written in YAML; the term lists are parsed by `_Compiler`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    all: list[Any] = Field(default_factory=list)
    any: list[Any] = Field(default_factory=list)
    none: list[Any] = Field(default_factory=list)
    near: Any = None  # shorthand for all: [{near: …}]
    entities: dict[str, list[str]] = Field(default_factory=dict)
    fields: list[FieldName] = Field(default_factory=lambda: list[FieldName](FIELDS), min_length=1)
    plural: bool = False
    min_count: int = Field(1, ge=1)
    feeds: list[str] | None = None
    tags: list[str] | None = None
    language: list[str] | None = None
    priority: Priority = "normal"
    notify: list[str] | None = None
    template: str | None = None  # Jinja2 text, or a .j2 file next to the rule file
    spread: SpreadSpec | None = None
    enabled: bool = True

    @field_validator("all", "any", "none", "feeds", "tags", "language", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str | dict) else value


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    description: str
    root: Group
    fields: frozenset[str]
    min_count: int
    feeds: frozenset[str] | None
    tags: frozenset[str] | None  # case-folded: « International » is `international`
    language: tuple[str, ...] | None
    priority: Priority
    channels: tuple[str, ...]
    origin: str  # file:line, for humans
    template: str | None = None
    spread: Spread | None = None  # tell its channels when a story it matched spreads

    def accepts(self, article: Article) -> bool:
        """The rule's filters on where the article comes from, checked before any matching."""
        if self.feeds is not None and not self.feeds & {article.outlet, article.feed_url}:
            return False
        if self.tags is not None and not self.tags & {tag.casefold() for tag in article.tags}:
            return False
        if self.language is not None and article.language:  # unknown language: don't drop it
            return article.language.lower().split("-")[0] in self.language
        return True


def unreachable_filters(rule: CompiledRule, feeds: Sequence[tuple[str, str, Sequence[str]]]
                        ) -> list[str]:
    """Why `rule` may never fire given the configured feeds (name, URL, tags): a `feeds:` entry
    naming none of them, a `tags:` entry no feed carries. Warnings: an outlet's own name, read
    from its pages, can still match a `feeds:` entry."""
    known = {value for name, url, _ in feeds for value in (name, url)}
    tags = {tag.casefold() for _, _, feed_tags in feeds for tag in feed_tags}
    return ([f"feeds: no configured feed is named '{name}'"
             for name in sorted(rule.feeds or ()) if name not in known]
            + [f"tags: no configured feed has the tag '{tag}'"
               for tag in sorted(rule.tags or ()) if tag not in tags])


class RuleSet:
    """Immutable once built: a reload builds a new one and swaps the reference."""

    def __init__(self, rules: Iterable[CompiledRule] = ()) -> None:
        self.rules = tuple(rules)
        self._by_form: dict[str, set[int]] = {}
        self._always = {i for i, rule in enumerate(self.rules) if rule.root.always_evaluated()}
        for index, rule in enumerate(self.rules):
            for form in rule.root.words():
                self._by_form.setdefault(form, set()).add(index)
        self._automaton: ahocorasick.Automaton | None = None
        if self._by_form:
            self._automaton = ahocorasick.Automaton()
            for form in self._by_form:
                self._automaton.add_word(form, form)
            self._automaton.make_automaton()
        self._entity_forms = {form for rule in self.rules if rule.root.has_entities()
                              for form in _entity_forms(rule.root)}

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def uses_entities(self) -> bool:
        return bool(self._entity_forms)

    def scan(self, article: Article) -> Scan:
        """Fold the article's fields and find every occurrence of every word form in them. Each
        field is read up to MAX_CHARS (`scan.cut` says which were cut): a hostile page's text
        of megabytes costs no more than a long article."""
        texts = {"title": article.title, "summary": article.summary, "text": article.text}
        if article.source == "feed":
            texts["text"] = ""  # the summary stands in for the text: don't count it twice
        cut = {name: len(value) for name, value in texts.items() if len(value) > MAX_CHARS[name]}
        texts = {name: value[:MAX_CHARS[name]] for name, value in texts.items()}
        folded = {name: fold(value) for name, value in texts.items()}
        found = {name: self._find(f.text) for name, f in folded.items()}
        return Scan(article, texts, folded, found, cut=cut)

    def entity_fields(self, scan: Scan) -> list[str]:
        """Fields where an entity rule's name occurs: only these need the entity recogniser."""
        return [name for name in FIELDS if self._entity_forms & scan.found[name].keys()]

    def evaluate(self, scan: Scan, labels: EntitySpans | None = None) -> list[Match]:
        scan.labels = labels
        candidates = set(self._always)
        for name in FIELDS:
            for form in scan.found[name]:
                candidates |= self._by_form.get(form, set())
        matches = []
        for index in sorted(candidates):
            rule = self.rules[index]
            if not rule.accepts(scan.article):
                continue
            hits = rule.root.evaluate(scan, rule.fields)
            if hits is None or len(hits) < rule.min_count:
                continue
            first: dict[tuple[str, str], Hit] = {}
            for hit in hits:  # explain each term once, by its first occurrence
                first.setdefault((hit.term, hit.field), hit)
            matches.append(Match(rule.name, tuple(first.values()), rule.channels,
                                 rule.priority, rule.description, rule.template))
        return matches

    def match(self, article: Article,
              recognise: Callable[[dict[str, str]], EntitySpans] | None = None) -> list[Match]:
        """Scan and evaluate in one call; `recognise` labels entities when an entity rule needs it."""
        scan = self.scan(article)
        needed = self.entity_fields(scan)
        labels = recognise({name: scan.texts[name] for name in needed}) if needed and recognise else None
        return self.evaluate(scan, labels)

    def _find(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Every occurrence of every form in `text`, on word boundaries."""
        found: dict[str, list[tuple[int, int]]] = {}
        if self._automaton is None:
            return found
        for last, form in self._automaton.iter(text):
            start = last - len(form) + 1
            if (start == 0 or text[start - 1] == " ") and (last + 1 == len(text)
                                                          or text[last + 1] == " "):
                found.setdefault(form, []).append((start, last + 1))
        return found


def _entity_forms(node: Node) -> list[str]:
    if isinstance(node, Entity):
        return node.words()
    if isinstance(node, Group):
        return [form for child in node.children for form in _entity_forms(child)]
    return []
