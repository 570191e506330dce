"""The project's exceptions, and `Problem`: one user-facing error with its file, line and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a user's file, printed as `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class MonitorError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidInput(MonitorError):
    """A config or rule file is wrong; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in problems))


class FetchError(MonitorError):
    """A network fetch failed; the message says why in a few words, never with secrets.
    `retry_after`: seconds the server asked us to wait (429/503 with Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.transient = transient  # worth trying again later: timeouts, 5xx, network, DNS


class LeaseLost(MonitorError):
    """Work this process claimed was claimed again by another while this one was paused past
    its lease: the result is discarded (the other instance does the work)."""


class LockBusy(MonitorError):
    """A cluster-wide lock stayed taken by another instance (one paused, say) for as long as
    this one would wait: the step is tried again later."""


class Busy(MonitorError):
    """Another monitor process works on this database (or, on PostgreSQL, under this name)."""


class UnusableDatabase(MonitorError):
    """The database cannot be opened, written or read: which (a file, or a server's URL without
    its password), why, and what to do."""

    def __init__(self, path: object, reason: str) -> None:
        advice = ("check that the server is up and its address, user and password"
                  if str(path).startswith(("postgresql://", "postgres://")) else
                  "check the permissions of the file and its folder, or move the file aside to "
                  "start afresh")
        super().__init__(f"{path}: the database cannot be used ({reason}); {advice}")
