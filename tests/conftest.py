"""Shared fixtures, and the database engine the suite runs on.

`python -m pytest` runs on SQLite; `python -m pytest --engine postgres` (or
MONITOR_TEST_ENGINE=postgres) runs the same tests on PostgreSQL at $MONITOR_TEST_POSTGRES
(default postgresql://postgres@127.0.0.1/test), each test in a schema of its own, given to every
config (and every daemon the test starts) by MONITOR_DATABASE. Tests of what only SQLite has (its
file, its lock, its old schemas) are marked `sqlite` and deselected there; tests of several
instances use PostgreSQL whatever the engine. Without a server, those tests fail under CI=true
and are skipped, saying why, elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Mailbox, Site

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engine", choices=("sqlite", "postgres"),
                     default=os.environ.get("MONITOR_TEST_ENGINE", "sqlite"),
                     help="the database engine the suite runs on")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite: tests what only SQLite has (not run on postgres)")
    config.addinivalue_line("markers", "own_servers: starts every server it needs, whatever the "
                            "engine (run once, in the SQLite run)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("engine") != "postgres":
        return
    kept = [item for item in items if item.get_closest_marker("sqlite") is None
            and item.get_closest_marker("own_servers") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def engine(config: pytest.Config) -> str:
    return str(config.getoption("engine"))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    import psycopg

    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.Error as error:
        reason = f"no PostgreSQL at {POSTGRES} ({str(error).strip()})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database of the test's own: a fresh schema, dropped after."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{joiner}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as db:
        db.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine(request.config) == "postgres" and request.node.get_closest_marker("sqlite") is None:
        monkeypatch.setenv("MONITOR_DATABASE", request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(tmp_path: Path) -> str | Path:
    """Where the test's store lives: a SQLite file, or its PostgreSQL schema."""
    url = os.environ.get("MONITOR_DATABASE")
    return url if url else tmp_path / "state" / "monitor.db"


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as server:
        yield server
