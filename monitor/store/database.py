"""One SQL dialect over two engines: SQLite (the embedded default) and PostgreSQL (several
instances sharing the work). `Store` writes its queries once, with `?` placeholders and what
both engines understand (`ON CONFLICT`, `RETURNING`, `greatest`/`least`); this module makes the
rest agree: placeholders, column types of the schema, transactions, locks and rows.

PostgreSQL is reached through a psycopg pool, so that a restarted server costs a failed step,
not the daemon: the next step gets a fresh connection.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast

from monitor.config.config import is_postgres
from monitor.core.errors import UnusableDatabase
from monitor.core.secrets import redact
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
    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...
    def transaction(self, lock: str | None = None) -> AbstractContextManager[Database]: ...
    def try_lock(self, name: str) -> bool: ...
    def columns(self, table: str) -> list[str]: ...
    def hold(self, name: str) -> bool: ...
    def migrate(self, version: int, schema: str, upgrades: Mapping[int, str]) -> None: ...
    def writable(self, wait: float) -> bool: ...
    def close(self) -> None: ...


def open_database(target: str | Path) -> Database:
    if is_postgres(target):
        return Postgres(str(target))
    return Sqlite(Path(target))


def _greatest(*values: Any) -> Any:
    return max((value for value in values if value is not None), default=None)


def _least(*values: Any) -> Any:
    return min((value for value in values if value is not None), default=None)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


class Sqlite:
    """One connection, used from the event loop's thread only. A transaction is `BEGIN
    IMMEDIATE`: the one writer at a time, so it is also every lock there is to take."""

    engine = "sqlite"
    skip_locked = ""

    def __init__(self, path: Path) -> None:
        self.target = self.path = path
        self._depth = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe in WAL
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
        return cast(Result, self._db.execute(sql, params))

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._db.executemany(sql, rows)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Sqlite]:
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

    def writable(self, wait: float) -> bool:
        """Can a write transaction start within `wait` seconds (file writable, not locked)?"""
        self._db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        self._db.close()


# -- PostgreSQL ---------------------------------------------------------------------------------

def postgres_ddl(sql: str) -> str:
    """SQLite's schema in PostgreSQL's words: 64-bit numbers and floats (PostgreSQL's REAL has
    24 bits: a timestamp would lose its seconds), identity columns for SQLite's rowids."""
    sql = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                 sql)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = sql.replace(") WITHOUT ROWID;", ");")
    # the console numbers feeds by SQLite's implicit rowid
    return sql.replace("CREATE TABLE feeds (",
                       "CREATE TABLE feeds (\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY,")


_PLACEHOLDER = re.compile(r"'[^']*'|\?")


def postgres_sql(sql: str) -> str:
    """`?` placeholders become psycopg's `%s` (a literal `%` doubles); quoted text is kept."""
    sql = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda found: "%s" if found.group() == "?" else found.group(), sql)


class Row(tuple[Any, ...]):
    """A row read by column name or position, as sqlite3.Row is."""

    names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, (float(value) if isinstance(value, Decimal) else value
                                    for value in values))
        row.names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


class _Rows:
    """A statement's whole result, read before its connection goes back to the pool."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class Postgres:
    engine = "postgres"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.target = url
        self._psycopg = psycopg
        self._conn: Any = None  # the connection of the transaction in progress
        self._held: Any = None  # the connection that holds this process's instance lock
        self._depth = 0
        try:
            psycopg.connect(url, connect_timeout=10).close()  # fails fast, and says why
            self._pool = ConnectionPool(
                url, min_size=1, max_size=4, open=True, timeout=30.0, name="monitor",
                kwargs={"autocommit": True})
            self._pool.wait(timeout=30.0)
            schema = self.execute("SELECT current_schema()").fetchone()
        except Exception as error:  # psycopg_pool.PoolTimeout, psycopg.Error
            raise UnusableDatabase(redact(url), _postgres_reason(error)) from error
        self._namespace = f"{schema[0] if schema else ''}:"  # this deployment's locks

    def _run(self, conn: Any, sql: str, params: Params, many: bool = False) -> _Rows:
        query = postgres_sql(sql) if params else sql  # with no parameters, % is just %
        with conn.cursor() as cursor:
            if many:
                cursor.executemany(query, [_plain(row) for row in params])
                return _Rows([], cursor.rowcount)
            cursor.execute(query, _plain(params) if params else None)
            rows: list[Row] = []
            if cursor.description:
                names = {column.name: index for index, column in enumerate(cursor.description)}
                rows = [Row(values, names) for values in cursor.fetchall()]
            return _Rows(rows, cursor.rowcount)

    def execute(self, sql: str, params: Params = ()) -> Result:
        if self._conn is not None:
            return self._run(self._conn, sql, params)
        with self._pool.connection() as conn:
            return self._run(conn, sql, params)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        if self._conn is not None:
            self._run(self._conn, sql, rows, many=True)
            return
        with self._pool.connection() as conn:
            self._run(conn, sql, rows, many=True)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Postgres]:
        """A transaction; `lock` names an advisory lock it holds to its end, for what must be
        decided by one instance at a time (a story's members, a migration)."""
        if self._depth:
            self._depth += 1
            try:
                if lock:
                    self._lock(lock)
                yield self
            finally:
                self._depth -= 1
            return
        with self._pool.connection() as conn, conn.transaction():
            self._conn, self._depth = conn, 1
            try:
                if lock:
                    self._lock(lock)
                yield self
            finally:
                self._conn, self._depth = None, 0

    def _lock(self, name: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (lock_id(self._namespace + name),))

    def try_lock(self, name: str) -> bool:
        """Inside a transaction: take `name`'s advisory lock to its end, unless another holds it."""
        row = self.execute("SELECT pg_try_advisory_xact_lock(?)",
                           (lock_id(self._namespace + name),)).fetchone()
        return bool(row and row[0])

    def columns(self, table: str) -> list[str]:
        return [row[0] for row in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() ORDER BY ordinal_position", (table,))]

    def migrate(self, version: int, schema: str, upgrades: Mapping[int, str]) -> None:
        """The same numbered schema as SQLite's; a PostgreSQL database starts at the version
        this monitor first supported PostgreSQL in. Run by one instance at a time."""
        try:
            with self.transaction(lock="migrate"):
                self.execute("CREATE TABLE IF NOT EXISTS monitor_schema (version BIGINT NOT NULL)")
                row = self.execute("SELECT version FROM monitor_schema").fetchone()
                found = row[0] if row else 0
                if found > version:
                    raise UnusableDatabase(redact(str(self.target)),
                                           f"written by a newer monitor, schema {found}")
                if found == 0:
                    self._script(postgres_ddl(schema))
                    self.execute("INSERT INTO monitor_schema (version) VALUES (?)", (version,))
                    return
                for old in range(found, version):
                    self._script(postgres_ddl(upgrades[old]))
                self.execute("UPDATE monitor_schema SET version = ?", (version,))
        except self._psycopg.Error as error:
            raise UnusableDatabase(redact(str(self.target)), _postgres_reason(error)) from error

    @staticmethod
    def verify(url: str, version: int) -> None:
        """Read-only: the server answers and its schema (if any yet) is one this monitor
        knows. Raises UnusableDatabase."""
        import psycopg

        try:
            with psycopg.connect(url, connect_timeout=10, autocommit=True) as db:
                if db.execute("SELECT to_regclass('monitor_schema')").fetchone() == (None,):
                    return
                row = db.execute("SELECT version FROM monitor_schema").fetchone()
        except psycopg.Error as error:
            raise UnusableDatabase(redact(url), _postgres_reason(error)) from error
        if row and row[0] > version:
            raise UnusableDatabase(redact(url), f"written by a newer monitor, schema {row[0]}")

    def _script(self, sql: str) -> None:
        self._conn.execute(sql)  # no parameters: several statements at once

    def writable(self, wait: float) -> bool:
        try:
            with self._pool.connection(timeout=wait) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # psycopg_pool.PoolTimeout, psycopg.Error: not reachable now
            return False

    def hold(self, name: str) -> bool:
        """Hold `name`'s lock for as long as this process lives (a session lock, on a
        connection of its own: the server frees it when the process dies, SIGKILL included).
        False when a live process holds it."""
        if self._held is None:
            # keepalives: a machine that vanished from the network frees its locks in ~40 s
            self._held = self._psycopg.connect(
                self.target, autocommit=True, keepalives=1, keepalives_idle=20,
                keepalives_interval=5, keepalives_count=4)
        row = self._held.execute("SELECT pg_try_advisory_lock(%s)",
                                 (lock_id(self._namespace + name),)).fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
        self._pool.close()


def _plain(params: Params) -> list[Any]:
    """SQLite stores a bool as 0 or 1 in an INTEGER column; PostgreSQL refuses it there."""
    return [int(value) if isinstance(value, bool) else value for value in params]


def _postgres_reason(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
