"""The commands of the `monitor` parser, read from the parser itself (for the tests that must
cover every command: global options, the README)."""

from __future__ import annotations

import argparse


def leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                found += leaf_commands(sub, path) or [path]
                if any(isinstance(a, argparse._SubParsersAction) and not a.required
                       for a in sub._actions):
                    found.append(path)  # `alerts`, `feeds`: a command of their own too
    return found
