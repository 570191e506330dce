"""Deliver one alert to one channel through Apprise, and say exactly what happened.

A channel is a name bound to one or more Apprise URLs (`json://`, `mailto://`, `slack://`, `tgram://`
and the 100+ others Apprise knows), or the built-in `console`, which prints on standard output.
Apprise URLs hold tokens and passwords: they are only ever shown masked (`url(privacy=True)`), and
any secret part of them is scrubbed from the error text we store and log.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import apprise

from monitor.config.channels import ChannelConfig
from monitor.config.config import CONSOLE
from monitor.core import templates
from monitor.core.secrets import masked, scrub
from monitor.telemetry import logs

log = logging.getLogger(__name__)
logs.keep_apprise_apart()


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str | None = None


_HTML_SCHEMES = {"mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "smtp2go",
                 "resend", "o365", "azure"}
_MARKDOWN_SCHEMES = {"slack", "tgram", "discord", "matrix", "matrixs", "mmost", "mmosts",
                     "msteams", "rocket", "rockets", "zulip", "gchat", "ntfy", "ntfys", "revolt",
                     "guilded", "lark", "mastodon", "toot"}
NOTIFY_TYPES = {"low": apprise.NotifyType.INFO, "normal": apprise.NotifyType.INFO,
                "high": apprise.NotifyType.WARNING}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_format(urls: Sequence[str]) -> str:
    """HTML for e-mail, Markdown for chat services that render it, plain text otherwise."""
    schemes = {url.split("://", 1)[0].lower() for url in urls}
    if schemes & _HTML_SCHEMES:
        return "html"
    if schemes and schemes <= _MARKDOWN_SCHEMES:
        return "markdown"
    return "text"


@dataclass(frozen=True, slots=True)
class Target:
    """One place a channel delivers to: one of its URLs, or its Apprise config file. Delivery
    state is kept per target, so a retry goes only where the message has not arrived."""

    key: str  # a digest of the URL (or file and tag): stored, so no secret in it
    shown: str  # masked, for people
    urls: tuple[str, ...]  # empty: the channel's config file


class Notifier:
    """Sends to named channels; blocking (Apprise is synchronous): call it from a worker thread."""

    def __init__(self, channels: Mapping[str, ChannelConfig], base: Path = Path("."),
                 out: TextIO | None = None, timeout: float = 60.0) -> None:
        self._channels = dict(channels)
        self._base = base
        self.out = out or sys.stdout
        self._timeout = timeout
        self._templates = {name: templates.source_of(channel.template, base)
                           for name, channel in self._channels.items() if channel.template}

    def format_of(self, channel: str) -> str:
        if channel == CONSOLE:
            return "text"  # a terminal or a journal shows Markdown's stars as they are
        found = self._channels.get(channel)
        if found is None:
            return "text"
        if found.format:
            return found.format
        return default_format(found.urls) if found.urls else "markdown"

    def template_of(self, channel: str) -> str | None:
        return self._templates.get(channel)

    def channel(self, name: str) -> ChannelConfig | None:
        return self._channels.get(name)

    def send(self, channel: str, title: str, body: str, fmt: str = "text",
             priority: str = "normal") -> SendResult:
        if channel == CONSOLE:
            self.out.write(f"\n== {title}\n{body}\n")
            self.out.flush()
            return SendResult(True)
        config = self._channels.get(channel)
        if config is None:
            return SendResult(False, f"channel '{channel}' is not configured")
        service, problem = self._service(config, config.urls)
        if problem:
            return SendResult(False, problem)
        return self._notify(service, config, title, body, fmt, priority)

    def targets(self, channel: str) -> list[Target]:
        if channel == CONSOLE:
            return [Target(CONSOLE, CONSOLE, ())]
        config = self._channels.get(channel)
        if config is None:
            return [Target(f"missing:{channel}", channel, ())]
        found = [Target(_digest(url), masked(url), (url,)) for url in config.urls]
        if config.config is not None:
            file = f"{config.config}" + (f" [tag {config.tag}]" if config.tag else "")
            found.append(Target(_digest(file), file, ()))
        return found

    def send_to(self, channel: str, target: Target, title: str, body: str, fmt: str = "text",
                priority: str = "normal") -> SendResult:
        """Send to one target of a channel (`targets`)."""
        config = self._channels.get(channel)
        if channel == CONSOLE or config is None:
            return self.send(channel, title, body, fmt, priority)
        service, problem = self._service(config, target.urls, with_file=not target.urls)
        if problem:
            return SendResult(False, problem)
        return self._notify(service, config, title, body, fmt, priority)

    def test(self, channel: str) -> list[tuple[str, SendResult]]:
        """Send a test message through each target of a channel, one at a time."""
        body = f"Message de test du canal « {channel} » : s'il vous parvient, le canal fonctionne."
        return [(target.shown, self.send_to(channel, target, "monitor : test", body, "text"))
                for target in self.targets(channel)]

    def _service(self, config: ChannelConfig, urls: Sequence[str],
                 with_file: bool = True) -> tuple[apprise.Apprise, str | None]:
        # A fresh Apprise object per send: no state shared between threads or sends.
        service = apprise.Apprise()
        for url in urls:
            if not service.add(url):
                return service, f"invalid URL {masked(url)}"
        if with_file and config.config is not None:
            loaded = apprise.AppriseConfig()
            loaded.add(str(self._base / config.config))
            service.add(loaded)
        return service, None

    def _notify(self, service: apprise.Apprise, config: ChannelConfig, title: str, body: str,
                fmt: str, priority: str) -> SendResult:
        urls = list(config.urls)
        try:
            result = service.notify(body=body, title=title, body_format=fmt,
                                    notify_type=NOTIFY_TYPES.get(priority, "info"),
                                    tag=config.tag or apprise.common.MATCH_ALL_TAG,
                                    timeout=self._timeout)
        except Exception as error:  # a plugin bug must not kill the delivery loop
            return SendResult(False, scrub(f"{type(error).__name__}: {error}", urls))
        if result:
            return SendResult(True)
        reasons = [entry.message for entry in result.logs()
                   if entry.level in ("WARNING", "ERROR", "CRITICAL")]
        reason = "; ".join(dict.fromkeys(reasons)) or f"Apprise status {result.status.name}"
        return SendResult(False, scrub(reason, urls)[:1000])
