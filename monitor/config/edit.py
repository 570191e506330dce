"""Edit the feeds of config.yaml in place, keeping its comments, order and layout.

The file is the user's: `monitor feeds add` must leave every other line as it was written, so it is
edited with ruamel.yaml's round-trip mode, in the file's own indentation, never re-dumped from the
validated model (which would drop the comments and replace `${TOKEN}` by its value). The result
is validated like any config before it replaces the file, atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from monitor.config import config as config_module
from monitor.core.errors import InvalidInput, Problem


def add_feeds(path: Path, feeds: Sequence[dict[str, Any]]) -> None:
    """Append `feeds` (name, url, optional tags) to the file's `feeds:` list."""
    def append(document: CommentedMap) -> None:
        listed = document.get("feeds")
        if listed is None or not isinstance(listed, CommentedSeq):
            listed = document["feeds"] = CommentedSeq()
        if not listed:
            listed.fa.set_block_style()  # `feeds: []` becomes a list one can read and edit
        for feed in feeds:
            entry = CommentedMap(feed)
            if "tags" in entry:
                tags = CommentedSeq(entry["tags"])
                tags.fa.set_flow_style()
                entry["tags"] = tags
            following = _detach_following(listed[-1]) if listed else ""
            listed.append(entry)
            _attach_following(entry, following)

    _edit(path, append)


def remove_feed(path: Path, name_or_url: str) -> bool:
    """Remove the feed with this name (or URL); False when there is none."""
    found = False

    def remove(document: CommentedMap) -> None:
        nonlocal found
        listed = document.get("feeds") or []
        for index, feed in enumerate(listed):
            if isinstance(feed, dict) and name_or_url in (feed.get("name"), feed.get("url")):
                following = _detach_following(feed)
                del listed[index]
                if listed and index == len(listed):
                    _attach_following(listed[-1], following)
                found = True
                return

    _edit(path, remove)
    return found


def _detach_following(entry: Any) -> str:
    """The blank lines and comments after a list's last entry, which ruamel hangs on that
    entry's last value (they belong to what follows the list); the entry keeps its own
    end-of-line comment."""
    if not isinstance(entry, CommentedMap) or not entry:
        return ""
    slot = entry.ca.items.get(list(entry)[-1])
    if not slot or len(slot) < 3 or slot[2] is None:
        return ""
    following: str  # ruamel's comment slots are untyped: slot[2] is a CommentToken
    own, newline, following = slot[2].value.partition("\n")
    slot[2].value = own + newline
    return following


def _attach_following(entry: CommentedMap, following: str) -> None:
    if not following:
        return
    key = list(entry)[-1]
    slot = entry.ca.items.get(key)
    if slot and len(slot) > 2 and slot[2] is not None:  # after its own end-of-line comment
        slot[2].value += following
    else:
        entry.ca.items[key] = [None, None, CommentToken("\n" + following, CommentMark(0), None),
                               None]


def _edit(path: Path, change: Callable[[CommentedMap], None]) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    yaml = YAML()  # round trip; safe: it builds only plain types and its commented variants
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the user wrote on one
    document: Any = CommentedMap()
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the config we ship
    if text.strip():
        _, sequence, offset = load_yaml_guess_indent(text)
        if sequence is not None:
            yaml.indent(mapping=_mapping_indent(text), sequence=sequence, offset=offset or 0)
        document = yaml.load(text)
    if not isinstance(document, CommentedMap):
        raise InvalidInput([Problem(str(path), None, "", "the file must be a mapping of settings")])
    change(document)
    out = io.StringIO()
    yaml.dump(document, out)
    _replace_valid(path, out.getvalue())


def _mapping_indent(text: str) -> int:
    """How far the file indents a mapping's keys under their parent (ruamel guesses only the
    indentation of lists): the first indented key after a top-level `key:` line."""
    after_key = False
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if after_key and indent and not stripped.startswith("-"):
            return indent
        after_key = indent == 0 and stripped.rstrip().endswith(":")
    return 2


def _replace_valid(path: Path, text: str) -> None:
    """Write `text` beside `path`, validate it as a config, then move it over `path`."""
    handle, name = tempfile.mkstemp(dir=path.resolve().parent, prefix=".config-", suffix=".yaml")
    candidate = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        if path.exists():
            os.chmod(candidate, path.stat().st_mode & 0o777)
        config_module.load(candidate, _AnyEnvironment())
        os.replace(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)


class _AnyEnvironment(Mapping[str, str]):
    """The environment, with a stand-in for variables it lacks: `feeds add` runs in a shell that
    may not hold the daemon's tokens, and checks the file's shape, not their values."""

    def __getitem__(self, name: str) -> str:
        return os.environ.get(name, "unset")

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)
