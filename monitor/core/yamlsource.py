"""Safe YAML loading that remembers where each value was written.

Errors must name file, line and field, so loading keeps a map from a value's path (as pydantic
reports it: `("feeds", 2, "url")`) to its line. Only YAML's safe types are built; `${VAR}` and
`${VAR:-default}` in strings are replaced from the environment so secrets stay out of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.core.errors import InvalidInput, Problem

Path_ = tuple[str | int, ...]
# The only tags a config or rule file needs; anything else (!!python/…, custom tags) is refused.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in
                        ("map", "seq", "str", "int", "float", "bool", "null", "timestamp"))
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# libyaml's parser when PyYAML has it (its wheels do): 3.7 times faster on a config of 10,000
# feeds, whose node tree it builds in 16 MB less memory. Same safe constructor, same node types.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A file is read whole before parsing: no config or rule file comes near this (10,000 feeds
# take about 1 MB).
MAX_BYTES = 8 * 1024 * 1024
# Values an alias may copy in all: a list of terms shared by a few rules stays far below, a
# "billion laughs" (nine levels of nine aliases: 387 million strings from 300 bytes) is stopped
# after this many, in milliseconds instead of gigabytes.
MAX_ALIASED_VALUES = 10_000


@dataclass
class Source:
    """A loaded YAML document: its data and the line of every value in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # What is wrong but did not stop the reading (a duplicate key, an unset ${VAR}): reported
    # with the problems found later, so that one does not hide the others.
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """Line of the value at `path`, or of its nearest ancestor that was written down."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), message)

    def validation_problems(self, error: ValidationError, at: Path_ = ()) -> list[Problem]:
        """pydantic's errors, each placed on its line, in words a YAML author understands."""
        problems = []
        for item in error.errors():
            # pydantic adds union branch names ("str", "list[str]") to locations: not the user's.
            path = at + tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p))
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(self.problem(path, message))
        return problems


def dotted(path: Path_) -> str:
    """`("rules", 3, "any", 1)` → `rules[3].any[1]`, the way users read a location."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load(file: Path, env: Mapping[str, str] | None = None) -> Source:
    """Parse `file` safely; raise InvalidInput naming the line of a YAML error that stops the
    reading. Lesser problems (duplicate keys, unset `${VAR}`s) are in `source.problems`."""
    env = os.environ if env is None else env
    name = str(file)
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise InvalidInput([Problem(name, None, "", f"too large: more than "
                                        f"{MAX_BYTES // 1024 // 1024} MB")])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput([Problem(name, None, "", f"cannot read: {error}")]) from error
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        raise InvalidInput([Problem(name, line, "", f"invalid YAML: {reason}")]) from error
    finally:
        loader.dispose()
    source = Source(name, None)
    if node is not None:
        _Copies(source).check(node, (), node.start_mark.line + 1)
        source.data = _Builder(source, loader, env).build(node, ())
    return source


class _Copies:
    """Counts, before anything is built, the values aliases would copy: each node is sized
    once, an alias adds its node's size. A bomb is refused in microseconds, at the alias that
    goes over, not after building what it could."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.sizes: dict[int, int] = {}
        self.copied = 0

    def check(self, node: yaml.Node, path: Path_, line: int) -> int:
        """The values `node` stands for; `line`: where it is written (an alias's node is its
        anchor's, written elsewhere: the line is that of the value holding the alias)."""
        size = self.sizes.get(id(node))
        if size is not None:  # seen before: this is an alias, a copy of it all
            self.copied += size
            if self.copied > MAX_ALIASED_VALUES:
                raise InvalidInput([Problem(
                    self.source.file, line, dotted(path),
                    f"too many aliases: they would copy more than {MAX_ALIASED_VALUES:,} "
                    "values (write the values out, or share fewer)")])
            return size
        self.sizes[id(node)] = MAX_ALIASED_VALUES + 1  # a node inside itself: infinite
        here = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self.check(value, (*path, str(key.value)), here)
                           for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self.check(item, (*path, index), here)
                           for index, item in enumerate(node.value))
        else:
            size = 1
        self.sizes[id(node)] = size
        return size


class _Builder:
    """Plain data from the node tree, each value's line noted (aliases copied: `_Copies` has
    bounded what they copy)."""

    def __init__(self, source: Source, loader: Any, env: Mapping[str, str]) -> None:  # a _Loader
        self.source, self.loader, self.env = source, loader, env
        self.problems = source.problems

    def build(self, node: yaml.Node, path: Path_) -> Any:
        source = self.source
        source.lines[path] = node.start_mark.line + 1
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(source.problem(path, f"unsupported YAML tag {node.tag}"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            return node.value  # YAML 1.1 reads on/off/yes/no as booleans; people mean the words
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value = _substitute(value, path, source, self.env, self.problems)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        source, result = self.source, {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(source.problem(path, "YAML merge keys (<<) are not supported"))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.problems.append(Problem(source.file, key_line, dotted(path),
                                             "a key must be a plain word or number"))
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if key in result:
                self.problems.append(Problem(source.file, key_line, dotted((*path, key)),
                                             "duplicate key (the earlier value would be ignored)"))
            result[key] = self.build(value_node, (*path, key))
        return result


def _substitute(value: str, path: Path_, source: Source, env: Mapping[str, str],
                problems: list[Problem]) -> str:
    def replace(found: re.Match[str]) -> str:
        name, default = found.group(1), found.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(source.problem(path, f"environment variable {name} is not set"))
        return ""

    return _ENV.sub(replace, value)
