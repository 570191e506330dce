"""Durations (`90s`, `10m`, `2h`, `3d` or `3j`) and sizes (`512KB`, `10MB`) as written in the
configuration, the CLI and the console, to seconds and bytes: one parser each, one error form."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|j|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "j": 86400,  # jours
                   "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}


def parse_duration(value: Any, *, bare_seconds: bool = True) -> float:
    """`90`, `"90s"`, `"10m"`, `"1.5h"`, `"3d"` (or `"3j"`) → seconds. Bare numbers are seconds
    in the config; where a person types a period (`--since`, the console), a unit is needed:
    `--since 2` would read as two seconds ago."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 2h")
    if isinstance(value, int | float) and bare_seconds:
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError(f"{value!r} is not a duration such as 30s, 10m, 2h, 3d")
        if found.group(2) is None and not bare_seconds:
            raise ValueError(f"{value!r} needs a unit: {found.group(1)}m, {found.group(1)}h, "
                             f"{found.group(1)}d…")
        seconds = float(found.group(1)) * _DURATION_UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError("must be more than zero")
    return seconds


class Period(float):
    """Seconds, shown as they were typed (`since 7d ago`)."""

    text: str

    def __str__(self) -> str:
        return self.text


def period(text: str) -> Period:
    """A period typed on the command line (`--since 24h`): argparse turns a refusal into
    `monitor …: error: argument --since: …` and exit code 2, as for any other bad option."""
    try:
        found = Period(parse_duration(text, bare_seconds=False))
    except ValueError as error:
        raise ArgumentTypeError(str(error)) from None
    found.text = text.strip()
    return found


def parse_size(value: Any) -> int:
    """`1048576`, `"512KB"`, `"10MB"`, `"1MiB"` → bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512KB or 10MB")
    if isinstance(value, int):
        size = value
    else:
        found = _SIZE.match(str(value))
        if not found:
            raise ValueError(f"{value!r} is not a size such as 512KB or 10MB")
        unit = (found.group(2) or "").lower()
        factor = _SIZE_UNITS[unit[:1]] if unit else 1
        if "i" in unit:
            factor = {1000: 1024, 1000**2: 1024**2, 1000**3: 1024**3}.get(factor, factor)
        size = int(float(found.group(1)) * factor)
    if size <= 0:
        raise ValueError("must be more than zero")
    return size


def parse_backfill(value: Any) -> float | None:
    """`poll.backfill`: a duration, `0` (nothing listed before the first poll alerts) or `all`
    (everything it lists may alert) → seconds, or None for all."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    if value in (0, "0", "0s"):
        return 0.0
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration such as 24h, nor 0 or all") from None
