"""Rule files → one compiled `RuleSet`; `RuleSet.match(article)` says which rules match and why.

All terms of all rules are folded (see `text.fold`) and compiled into a single Aho-Corasick
automaton, so one pass over an article's folded text finds every term of every rule, and the cost
grows with the text, not with the number of rules. A found term counts only on word boundaries
(`lection` is not in « élection »).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor import yamlsource
from monitor.errors import InvalidInput, Problem
from monitor.models import Article, Hit, Match
from monitor.text import Folded, fold, fold_term

FieldName = Literal["title", "summary", "text"]
FIELDS: tuple[FieldName, ...] = ("title", "summary", "text")


class RuleSpec(BaseModel):
    """One rule as written in YAML (the schema users see in error messages)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)
    fields: list[FieldName] = Field(default_factory=lambda: list(FIELDS), min_length=1)
    notify: list[str] | None = None
    enabled: bool = True

    @field_validator("all", "any", "none", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    all: tuple[str, ...]  # folded terms
    any: tuple[str, ...]
    none: tuple[str, ...]
    fields: frozenset[str]
    channels: tuple[str, ...]
    origin: str  # file:line, for humans


class RuleSet:
    """Immutable once built: reloading builds a new one and swaps the reference."""

    def __init__(self, rules: Iterable[CompiledRule], display: dict[str, str]) -> None:
        self.rules = tuple(rules)
        self._display = display  # folded term → the spelling the user wrote first
        self._automaton: ahocorasick.Automaton | None = None
        terms = {t for rule in self.rules for t in (*rule.all, *rule.any, *rule.none)}
        if terms:
            self._automaton = ahocorasick.Automaton()
            for term in terms:
                self._automaton.add_word(term, term)
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.rules)

    def find(self, folded: Folded) -> dict[str, tuple[int, int]]:
        """Every term present in `folded` on word boundaries → its first [start, end) there."""
        found: dict[str, tuple[int, int]] = {}
        if self._automaton is None:
            return found
        text = folded.text
        for last, term in self._automaton.iter(text):
            start = last - len(term) + 1
            if term in found:
                continue
            if (start == 0 or text[start - 1] == " ") and (last + 1 == len(text)
                                                          or text[last + 1] == " "):
                found[term] = (start, last + 1)
        return found

    def match(self, article: Article) -> list[Match]:
        """The rules `article` satisfies, each with one hit per positive term found."""
        if not self.rules:
            return []
        texts = {"title": article.title, "summary": article.summary, "text": article.text}
        if article.source == "feed":
            texts["text"] = ""  # the summary stands in for the text: don't count it twice
        folded = {name: fold(value) for name, value in texts.items()}
        found = {name: self.find(f) for name, f in folded.items()}
        matches = []
        for rule in self.rules:
            where = {term: (name, span) for name in FIELDS if name in rule.fields
                     for term, span in found[name].items()}
            if not all(term in where for term in rule.all):
                continue
            if rule.any and not any(term in where for term in rule.any):
                continue
            if any(term in where for term in rule.none):
                continue
            hits = []
            for term in dict.fromkeys((*rule.all, *rule.any)):
                if term in where:
                    name, (start, end) = where[term]
                    first, last = folded[name].original_span(start, end)
                    hits.append(Hit(self._display.get(term, term), name, first, last))
            matches.append(Match(rule.name, tuple(hits), rule.channels))
        return matches


def rule_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The *.yaml / *.yml files named, directories expanded in name order."""
    files, problems = [], []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), None, "", "no such rule file or directory"))
    return files, problems


def load(paths: Iterable[Path], channels: Iterable[str], default: Iterable[str]) -> RuleSet:
    """Load, validate and compile every rule file; raise InvalidInput with every problem."""
    files, problems = rule_files(paths)
    known, default = set(channels), tuple(default)
    compiled: list[CompiledRule] = []
    display: dict[str, str] = {}
    origins: dict[str, str] = {}
    for file in files:
        try:
            source = yamlsource.load(file)
        except InvalidInput as error:
            problems.extend(error.problems)
            continue
        specs = _validate(source, problems)
        for index, spec in specs:
            path = ("rules", index)
            origin = f"{source.file}:{source.line_of(path)}"
            if spec.name in origins:
                problems.append(source.problem(
                    (*path, "name"), f"rule '{spec.name}' is already defined at {origins[spec.name]}"))
            origins.setdefault(spec.name, origin)
            rule = _compile(spec, source, path, known, default, display, problems)
            if rule and spec.enabled:
                compiled.append(rule)
    if problems:
        raise InvalidInput(problems)
    return RuleSet(compiled, display)


def _validate(source: yamlsource.Source, problems: list[Problem]) -> list[tuple[int, RuleSpec]]:
    """Each rule validated on its own, so one bad rule does not hide the others' problems."""
    data = source.data if source.data is not None else {"rules": []}
    if not isinstance(data, dict) or set(data) - {"rules"}:
        problems.append(source.problem((), "a rule file is a mapping with one key, 'rules'"))
        return []
    items = data.get("rules") or []
    if not isinstance(items, list):
        problems.append(source.problem(("rules",), "'rules' must be a list of rules"))
        return []
    specs = []
    for index, item in enumerate(items):
        try:
            specs.append((index, RuleSpec.model_validate(item)))
        except ValidationError as error:
            problems.extend(source.validation_problems(error, at=("rules", index)))
    return specs


def _compile(spec: RuleSpec, source: yamlsource.Source, path: tuple, known: set[str],
             default: tuple[str, ...], display: dict[str, str],
             problems: list[Problem]) -> CompiledRule | None:
    before = len(problems)
    if not spec.all and not spec.any:
        problems.append(source.problem(path, "a rule needs at least one term in 'all' or 'any'"))
    groups: dict[str, list[str]] = {}
    for group in ("all", "any", "none"):
        groups[group] = []
        for index, term in enumerate(getattr(spec, group)):
            folded = fold_term(term)
            if not folded:
                problems.append(source.problem((*path, group, index),
                                               f"term {term!r} has no letters or digits"))
                continue
            display.setdefault(folded, term.strip())
            groups[group].append(folded)
    channels = tuple(spec.notify) if spec.notify is not None else default
    for index, channel in enumerate(spec.notify or ()):
        if channel not in known:
            problems.append(source.problem((*path, "notify", index),
                                           f"unknown channel '{channel}' (see notify.channels)"))
    if len(problems) > before:
        return None
    return CompiledRule(
        name=spec.name, all=tuple(groups["all"]), any=tuple(groups["any"]),
        none=tuple(groups["none"]), fields=frozenset(spec.fields), channels=channels,
        origin=f"{source.file}:{source.line_of(path)}")
