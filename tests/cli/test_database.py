"""An unusable database is one line naming the file and what to do, exit 2, for every command."""

import os
from pathlib import Path

import pytest
import yaml

from monitor.store.store import Store
from tests.e2e.helpers import monitor_in

pytestmark = pytest.mark.sqlite  # a damaged file, a locked file: SQLite's own


def setup(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(database), "rules": [], "feeds": []}),
                      encoding="utf-8")
    return config


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def partly_overwritten(path: Path) -> None:
    """A real database whose first page, past SQLite's header, was written over."""
    Store(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("damage", [random_bytes, partly_overwritten])
@pytest.mark.parametrize("command", [["once"], ["feeds"], ["alerts"], ["stories"], ["check"]])
def test_one_line_naming_the_file(tmp_path: Path, damage, command: list[str]) -> None:
    database = tmp_path / "state" / "monitor.db"
    database.parent.mkdir()
    damage(database)
    result = monitor_in(tmp_path, *command, "--config", str(setup(tmp_path, database)))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"monitor: {database}: the database cannot be used ("), line
    assert line.endswith("or move the file aside to start afresh")
