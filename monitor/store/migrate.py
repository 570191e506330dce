"""`monitor migrate --from monitor.db --to postgresql://…`: a SQLite database moved, whole, to
an empty PostgreSQL one, so that several instances can share its history.

Both are brought to the current schema first; the rows are then copied in one transaction (all
of them or none), parents before children, ids kept, and PostgreSQL's id sequences set past
them. Rows are read and written CHUNK at a time: memory stays flat whatever the size of the
file. The SQLite file is locked meanwhile, as a daemon locks it: none may write to it unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from pathlib import Path

from monitor.config.config import is_postgres
from monitor.core.errors import MonitorError
from monitor.core.secrets import redact
from monitor.store import stories
from monitor.store.database import Database
from monitor.store.lock import exclusive
from monitor.store.store import Store, open_database

# parents first; the columns copied are those both sides have (feeds.rowid is PostgreSQL's own)
TABLES = ("stories", "feeds", "items", "articles", "item_keys", "alerts", "deliveries")
WITH_IDS = ("stories", "items", "alerts")
CHUNK = 500
Progress = Callable[[str, int, int], None]  # table, rows copied, rows in all


class MigrationRefused(MonitorError):
    """The migration cannot start: what is wrong with its source or target."""


def migrate(source: Path, target: str, progress: Progress | None = None) -> dict[str, int]:
    """Copy every row of the SQLite `source` into the PostgreSQL `target`, telling `progress`
    as it goes. Returns rows copied per table. Raises MigrationRefused (target not PostgreSQL,
    not empty; source missing)."""
    if not is_postgres(target):
        raise MigrationRefused(f"{target}: the target must be a postgresql:// URL")
    if not source.exists():
        raise MigrationRefused(f"{source}: no such database file")
    with exclusive(source):
        Store(source).close()  # brought to the current schema
        Store(target).close()
        old, new = open_database(source), open_database(target)
        try:
            return _copy(old, new, redact(target), progress or (lambda *_: None))
        finally:
            old.close()
            new.close()


def _copy(old: Database, new: Database, shown: str, progress: Progress) -> dict[str, int]:
    copied: dict[str, int] = {}
    with new.transaction(lock="migrate"):
        if new.execute("SELECT 1 FROM feeds UNION ALL SELECT 1 FROM items LIMIT 1").fetchone():
            raise MigrationRefused(f"{shown}: the target database already holds feeds or items; "
                                   "migrate into an empty one")
        for table in TABLES:
            columns = [c for c in old.columns(table) if c in new.columns(table)]
            copied[table] = _copy_table(old, new, table, columns, progress)
        # the story index is filed again from the copied fingerprints at the first completion
        new.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT DO NOTHING",
                    (stories.REBUILD,))
        for table in WITH_IDS:
            new.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
    return copied


def _copy_table(old: Database, new: Database, table: str, columns: list[str],
                progress: Progress) -> int:
    names = ", ".join(columns)
    row_marks = "(" + ", ".join("?" * len(columns)) + ")"
    total = int(old.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    rows = iter(old.execute(f"SELECT {names} FROM {table}"))  # read as they are written
    copied = 0
    while chunk := list(islice(rows, CHUNK)):
        new.execute(f"INSERT INTO {table} ({names}) VALUES "
                    + ", ".join([row_marks] * len(chunk)),
                    [value for row in chunk for value in row])
        copied += len(chunk)
        progress(table, copied, total)
    return copied
