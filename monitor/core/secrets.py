"""What must never reach a log line, a stored error or a page: the secret parts of Apprise URLs
(tokens, passwords, keys) and the password of a database URL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import apprise

_URL_PARTS = re.compile(r"[/:@?&=#,]+")


def masked(url: str) -> str:
    """The URL with its secrets hidden, or just its scheme when Apprise can't read it."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin:
        # apprise's URLBase.url has no annotations; it returns the URL as a str
        return cast(str, plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    return url.split("://", 1)[0] + "://…"


def secret_parts(urls: Sequence[str]) -> set[str]:
    """The parts of `urls` that their masked form hides: tokens, passwords, keys."""
    return set(_secret_parts(tuple(urls)))


@lru_cache(maxsize=16)
def _secret_parts(urls: tuple[str, ...]) -> frozenset[str]:
    """(Asking Apprise to mask a URL builds its plugin: a page or a listing that scrubs each of
    its rows with the same channels asks once.)"""
    parts: set[str] = set()
    for url in urls:
        shown = masked(url)
        parts |= {part for part in _URL_PARTS.split(url) if len(part) >= 4 and part not in shown}
    return frozenset(parts)


def scrub(text: str, urls: Sequence[str]) -> str:
    """`text` with every secret part of `urls` replaced by ****."""
    for part in _secret_parts(tuple(urls)):
        text = text.replace(part, "****")
    return text


def database_secrets(target: str | Path) -> set[str]:
    """The password of a database URL (none for a file), for the logs to scrub."""
    password = urlsplit(str(target)).password  # a file's path has none
    return {password} if password and len(password) >= 4 else set()


def redact(url: str) -> str:
    """A database URL fit for a log line: its password replaced."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
