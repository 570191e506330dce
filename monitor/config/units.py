"""Durations (`90s`, `10m`, `2h`, `3d`) and sizes (`512KB`, `10MB`) as written in the
configuration, the CLI and the console, to seconds and bytes."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}


def parse_duration(value: Any) -> float:
    """`90`, `"90s"`, `"10m"`, `"1.5h"`, `"3d"` → seconds. Bare numbers are seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError(f"{value!r} is not a duration such as 30s, 10m, 2h, 3d")
        seconds = float(found.group(1)) * _DURATION_UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError("must be more than zero")
    return seconds


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
