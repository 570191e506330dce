"""A throwaway PostgreSQL server of the test's own (initdb, pg_ctl) on a free loopback port, to
restart or stop at will: the shared server on 5432 is never restarted. PostgreSQL refuses to
run as root: as root, the server runs as the `postgres` user."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import free_port


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=120,
                       cwd=self.directory)

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", *extra, action)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A fast restart: every session ends, session locks are freed, as after a crash."""
        self._ctl("restart", "-m", "fast")

    def close(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
