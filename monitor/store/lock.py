"""One process at a time on a database: `run` and `once` hold an exclusive lock beside it.

Two processes working on one SQLite database each build their own story index and each send
what is due: a cron `monitor once` beside a running daemon gave one item two stories and two
alerts. The lock is the kernel's (flock on `<database>.lock`), so a process that dies, even of
SIGKILL, releases it. Commands that only read (`feeds`, `alerts`, `stories`) need none.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.core.errors import Busy


@contextmanager
def exclusive(database: Path) -> Iterator[None]:
    path = database.with_name(database.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by the workers
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise Busy(f"{database}: another monitor (pid {holder}) is working on this "
                       "database; stop it first, or give this one a `database:` of its own"
                       ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # and with it the lock
