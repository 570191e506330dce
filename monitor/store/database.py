"""One SQL dialect over two engines: SQLite (the embedded default, here) and PostgreSQL (several
instances sharing the work: `postgres.py`). The roles write their queries once, with `?`
placeholders and what both engines understand (`ON CONFLICT`, `RETURNING`, `greatest`/`least`);
the `Database` protocol below is what makes the rest agree: placeholders, column types of the
schema, transactions, locks and rows.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

from monitor.core.errors import UnusableDatabase
from monitor.core.text import title_words

BUSY_TIMEOUT_MS = 30_000
Params = Sequence[Any]


def lock_id(name: str) -> int:
    """A stable advisory lock number for a name (PostgreSQL's locks are numbered, and shared by
    every schema of a database: `Postgres` puts its schema in the name)."""
    return zlib.crc32(f"monitor:{name}".encode())


def new_owner(instance: str) -> str:
    """Who holds a lease: the instance's name, then this process (its pid, and a random part
    for a pid the system gave again)."""
    return f"{instance}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def default_instance() -> str:
    return socket.gethostname()


class Result(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """What `Store` needs of an engine."""

    engine: str  # "sqlite" or "postgres"
    skip_locked: str  # appended to a claiming SELECT: rows another instance holds are passed

    def execute(self, sql: str, params: Params = ()) -> Result: ...
    def rows(self, rows: Sequence[Params], types: Sequence[str]) -> tuple[str, list[Any]]: ...
    def any_of(self, column: str, values: Sequence[Any], type_: str) -> tuple[str, list[Any]]: ...
    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...
    def transaction(self, lock: str | None = None) -> AbstractContextManager[Database]: ...
    def try_lock(self, name: str) -> bool: ...
    def columns(self, table: str) -> list[str]: ...
    def hold(self, name: str) -> bool: ...
    def migrate(self, version: int, schema: str, upgrades: Mapping[int, str]) -> None: ...
    def write_within(self, sql: str, params: Params, wait: float) -> str | None: ...
    def close(self) -> None: ...


def _greatest(*values: Any) -> Any:
    return max((value for value in values if value is not None), default=None)


def _least(*values: Any) -> Any:
    return min((value for value in values if value is not None), default=None)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


class Sqlite:
    """One connection, shared by the threads that use it one at a time (the daemon's database
    thread, and the event loop's at start-up): a transaction holds it whole. A transaction is
    `BEGIN IMMEDIATE`: the one writer at a time, so it is also every lock there is to take."""

    engine = "sqlite"
    skip_locked = ""

    def __init__(self, path: Path) -> None:
        self.target = self.path = path
        self._depth = 0
        self._turn = threading.RLock()  # a statement, or a whole transaction, at a time
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe in WAL
            # a checkpoint every 16 MB of log, not every 4: a batch of completed items dirties
            # a page of the story index per name filed, about 1,000 pages a commit, so the
            # default copied them back (and synced) after nearly every commit (first cycle of
            # bench/daemon.py: 52 s instead of 56–64)
            self._db.execute("PRAGMA wal_autocheckpoint = 4000")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.create_function("monitor_title_words", 1, title_words, deterministic=True)
            self._db.create_function("greatest", -1, _greatest, deterministic=True)
            self._db.create_function("least", -1, _least, deterministic=True)
        except (sqlite3.Error, OSError) as error:
            raise UnusableDatabase(path, _reason(error)) from error

    @staticmethod
    def verify(path: Path, version: int) -> None:
        """Read-only: the file (if there is one yet) is a database this monitor can use, whole.
        Raises UnusableDatabase."""
        if not path.exists():
            return
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                found = db.execute("PRAGMA user_version").fetchone()[0]
                if found > version:
                    raise UnusableDatabase(path, f"written by a newer monitor, schema {found}")
                check = db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise UnusableDatabase(path, f"damaged: {check}")
        except sqlite3.Error as error:
            raise UnusableDatabase(path, _reason(error)) from error

    def execute(self, sql: str, params: Params = ()) -> Result:
        with self._turn:
            return cast(Result, self._db.execute(sql, params))

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._turn:
            self._db.executemany(sql, rows)

    @staticmethod
    def rows(rows: Sequence[Params], types: Sequence[str]) -> tuple[str, list[Any]]:
        """`INSERT … <this>` of many rows in one statement: a VALUES list (SQLite ignores
        `types`, the SQL column types: PostgreSQL's own needs them)."""
        marks = "(" + ", ".join("?" * len(types)) + ")"
        return "VALUES " + ", ".join([marks] * len(rows)), [v for row in rows for v in row]

    @staticmethod
    def any_of(column: str, values: Sequence[Any], type_: str) -> tuple[str, list[Any]]:
        """`WHERE <this>`: `column` is one of `values`."""
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Sqlite]:
        with self._turn:
            yield from self._transaction()

    def _transaction(self) -> Iterator[Sqlite]:
        if self._depth:  # inside the caller's: one transaction, committed by whoever began it
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
        self._db.execute("COMMIT")

    def try_lock(self, name: str) -> bool:
        return True  # inside a transaction, already the only writer

    def columns(self, table: str) -> list[str]:
        return [row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")]

    def hold(self, name: str) -> bool:
        return True  # the file is one process's already (monitor.store.lock)

    def migrate(self, version: int, schema: str, upgrades: Mapping[int, str]) -> None:
        try:
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            if found > version:
                raise UnusableDatabase(self.path, f"written by a newer monitor, schema {found}")
            # one script, one transaction each: a crash leaves no half-made schema
            if found == 0:
                self._db.executescript(
                    f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;")
                return
            for old in range(found, version):
                self._db.executescript(
                    f"BEGIN IMMEDIATE; {upgrades[old]} PRAGMA user_version = {old + 1}; COMMIT;")
        except sqlite3.Error as error:
            raise UnusableDatabase(self.path, _reason(error)) from error

    def write_within(self, sql: str, params: Params, wait: float) -> str | None:
        """One write, given `wait` seconds for the file's lock: None when it is done, else why
        not (the disk full, the file read-only, locked)."""
        with self._turn:
            self._db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                self._db.execute(sql, params)
                return None
            except sqlite3.Error as error:
                return _reason(error)
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        self._db.close()
