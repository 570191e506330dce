"""Logging: readable lines on a terminal, one JSON object per line otherwise (journald, Docker,
log shippers), with `feed`, `item`, `rule` and `channel` fields where a message has them, and the
secrets of the configured channel URLs scrubbed from every message whatever its origin."""

from __future__ import annotations

import json
import logging
import sys
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
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class SecretFilter(logging.Filter):
    """Replaces each registered secret (tokens, passwords of channel URLs) by ****."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "****")
            record.msg, record.args = message, None
        return True


_secrets = SecretFilter()


def setup(level: int, fmt: str = "auto") -> None:
    """`fmt`: "text", "json", or "auto" (text on a terminal, JSON otherwise)."""
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_secrets)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG - 1
                                         else logging.WARNING)
    keep_apprise_apart()


def hide(secrets: set[str]) -> None:
    """Register secrets to scrub from every log message from now on."""
    _secrets.secrets |= {secret for secret in secrets if len(secret) >= 4}
