"""Logging: readable lines on a terminal, one JSON object per line otherwise (journald, Docker,
log shippers), with `feed`, `item`, `rule` and `channel` fields where a message has them, and the
secrets of the configured channel URLs scrubbed from every message whatever its origin."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

FIELDS = ("feed", "item", "rule", "channel")
# Libraries whose DEBUG (and INFO) lines are about themselves: shown only at -vv.
_NOISY = ("aiohttp", "apscheduler", "trafilatura", "htmldate", "charset_normalizer",
          "asyncio", "tzlocal", "markdown", "courlan", "justext")


def keep_apprise_apart() -> None:
    """Apprise's log feeds the per-send capture stored (scrubbed) as an alert's last error: it
    keeps WARNING whatever our verbosity, and never reaches our handlers, where its lines would
    show tokens unscrubbed (and its debug chatter)."""
    apprise_log = logging.getLogger("apprise")
    apprise_log.setLevel(logging.WARNING)
    apprise_log.propagate = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_text:  # the text SecretFilter scrubbed, when it did
            data["error"] = record.exc_text
        elif record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, ensure_ascii=False)


class SecretFilter(logging.Filter):
    """Replaces each registered secret (tokens, passwords of channel URLs) by ****: in the
    message, in the text of the exception logged with it and in its stack, whichever format
    writes them (an exception's text is where a URL's token hides: « invalid URL
    slack://xoxb-… »)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg, record.args = self.scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:  # formatters write this text, made once, instead of exc_info's
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text


_TRACEBACKS = logging.Formatter()


class RepeatFilter(logging.Filter):
    """At most BURST lines a minute of each kind (logger, level and message template): a flood
    of connections, or a failure repeating, must not write hundreds of megabytes of the same
    line. The next line of that kind let through says how many were left out."""

    BURST, WINDOW, KINDS = 10, 60.0, 1000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._kinds: dict[tuple[str, int, str], list[float]] = {}  # → [window start, lines, left out]

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        key = (record.name, record.levelno, str(record.msg))
        kind = self._kinds.pop(key, None)  # re-inserted last: the oldest kinds go first
        if kind is None or now - kind[0] >= self.WINDOW:
            left_out = int(kind[2]) if kind else 0
            kind = [now, 0, 0]
            if left_out:
                record.msg = f"{record.getMessage()} ({left_out} more like it left out)"
                record.args = None
        self._kinds[key] = kind
        while len(self._kinds) > self.KINDS:
            del self._kinds[next(iter(self._kinds))]
        kind[1] += 1
        if kind[1] > self.BURST:
            kind[2] += 1
            return False
        return True


_secrets = SecretFilter()


class _ExpectedSkips(logging.Filter):
    """APScheduler warns each time a job's tick comes while its last run is still going. Here
    that is by design (one run of a job at a time; completing a burst of new items spans many
    ticks): at 10,000 feeds, a warning every 15 s that tells a reader nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_SKIPS = _ExpectedSkips()


def setup(level: int, fmt: str = "auto") -> None:
    """`fmt`: "text", "json", or "auto" (text on a terminal, JSON otherwise)."""
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatFilter())  # on the template, before secrets are replaced in it
    handler.addFilter(_secrets)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG - 1
                                         else logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPS)
    keep_apprise_apart()


def scrubbed(text: str) -> str:
    """`text` with every registered secret replaced, for what is shown outside the log."""
    return _secrets.scrub(text)


def hide(secrets: set[str]) -> None:
    """Register secrets to scrub from every log message from now on."""
    _secrets.secrets |= {secret for secret in secrets if len(secret) >= 4}
