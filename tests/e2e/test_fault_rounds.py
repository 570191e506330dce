"""A round of each fault of `bench/faults.py` (pause, kill, killed connections, a server
restart, refused writes) on real `monitor run` processes and a throwaway PostgreSQL server:
the bench's own check (nothing lost, no repeat beyond the message on the wire, no healthy
instance stalled past a lease) decides. The bench runs 30 rounds of each."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.helpers import PROJECT, environment


@pytest.mark.own_servers
def test_one_round_of_each_fault_loses_and_repeats_nothing() -> None:
    # (a stall is judged by the bench's 30 rounds on a quiet machine: CI runs two suites at once)
    run = subprocess.run([sys.executable, "bench/faults.py", "--rounds", "1", "--max-stall", "30"],
                         cwd=PROJECT,
                         capture_output=True, text=True, timeout=900, env=environment())
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0][2:] for row in rows] == [
        "pause", "kill", "terminate", "restart", "failed-write"], run.stdout
