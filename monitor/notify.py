"""Deliver one alert to one channel through Apprise, and say exactly what happened.

A channel is a name bound to one or more Apprise URLs (`json://`, `mailto://`, `slack://`, `tgram://`
and the 100+ others Apprise knows), or the built-in `console`, which prints on standard output.
Apprise URLs hold tokens and passwords: they are only ever shown masked (`url(privacy=True)`), and
any secret part of them is scrubbed from the error text we store and log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

import apprise

from monitor.config import CONSOLE

log = logging.getLogger(__name__)
_URL_PARTS = re.compile(r"[/:@?&=#,]+")


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str | None = None


def masked(url: str) -> str:
    """The URL with its secrets hidden, or just its scheme when Apprise can't read it."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin:
        return plugin.url(privacy=True)
    return url.split("://", 1)[0] + "://…"


def scrub(text: str, urls: Sequence[str]) -> str:
    """Remove from `text` every part of `urls` that their masked form hides (tokens, passwords)."""
    for url in urls:
        shown = masked(url)
        for part in _URL_PARTS.split(url):
            if len(part) >= 4 and part not in shown:
                text = text.replace(part, "****")
    return text


class Notifier:
    """Sends to named channels; blocking (Apprise is synchronous): call it from a worker thread."""

    def __init__(self, channels: Mapping[str, Sequence[str]], out: TextIO | None = None,
                 timeout: float = 60.0) -> None:
        self._channels = {name: list(urls) for name, urls in channels.items()}
        self._out = out or sys.stdout
        self._timeout = timeout

    def send(self, channel: str, title: str, body: str) -> SendResult:
        if channel == CONSOLE:
            self._out.write(f"\n== {title}\n{body}\n")
            self._out.flush()
            return SendResult(True)
        urls = self._channels.get(channel)
        if not urls:
            return SendResult(False, f"channel '{channel}' is not configured")
        # A fresh Apprise object per send: no state shared between threads or sends.
        service = apprise.Apprise()
        for url in urls:
            if not service.add(url):
                return SendResult(False, f"invalid URL {masked(url)}")
        try:
            result = service.notify(body=body, title=title,
                                    body_format=apprise.NotifyFormat.MARKDOWN,
                                    timeout=self._timeout)
        except Exception as error:  # a plugin bug must not kill the delivery loop
            return SendResult(False, scrub(f"{type(error).__name__}: {error}", urls))
        if result:
            return SendResult(True)
        reasons = [entry.message for entry in result.logs()
                   if entry.level in ("WARNING", "ERROR", "CRITICAL")]
        reason = "; ".join(dict.fromkeys(reasons)) or f"Apprise status {result.status.name}"
        return SendResult(False, scrub(reason, urls)[:1000])
