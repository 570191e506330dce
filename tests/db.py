"""Reading a test's database directly, whichever engine holds it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from monitor.config.config import is_postgres
from monitor.store.store import open_database


@contextmanager
def connect(target: str | Path) -> Iterator[Any]:
    """A connection to `target`, or to the test's PostgreSQL schema when the suite runs on
    PostgreSQL (MONITOR_DATABASE, which every config of the test obeys): a test names the
    SQLite file its config gives and reads the same database on either engine. `execute`
    takes `?` placeholders and gives rows equal to tuples."""
    target = target if is_postgres(target) else os.environ.get("MONITOR_DATABASE") or target
    if is_postgres(target):
        db = open_database(target)
        try:
            yield db
        finally:
            db.close()
        return
    with closing(sqlite3.connect(target, isolation_level=None)) as connection:
        yield connection


def fail_updates(db: Any, table: str, column: str, reason: str = "database or disk is full",
                 when: str = "TRUE") -> None:
    """From now on, every UPDATE that sets `table.column` (of the rows where `when`, in terms
    of NEW) fails with `reason`, as a full disk or a failing server would fail it (a trigger:
    the real write path, on either engine)."""
    _fail(db, table, f"UPDATE OF {column}", reason, when)


def fail_inserts(db: Any, table: str, reason: str = "database or disk is full") -> None:
    """From now on, every INSERT into `table` fails with `reason` (see `fail_updates`)."""
    _fail(db, table, "INSERT", reason, "TRUE")


def _fail(db: Any, table: str, event: str, reason: str, when: str) -> None:
    if isinstance(db, sqlite3.Connection):
        db.execute(f"CREATE TRIGGER fail_{table} BEFORE {event} ON {table} "
                   f"WHEN {when} BEGIN SELECT RAISE(FAIL, '{reason}'); END")
        return
    db.execute(f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS "
               f"$$ BEGIN RAISE EXCEPTION '{reason}'; END $$")
    db.execute(f"CREATE TRIGGER fail_{table} BEFORE {event} ON {table} "
               f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION fail_{table}()")


def heal_updates(db: Any, table: str) -> None:
    """Undo `fail_updates`: the space is back."""
    db.execute(f"DROP TRIGGER fail_{table}" + ("" if isinstance(db, sqlite3.Connection)
                                              else f" ON {table}"))
