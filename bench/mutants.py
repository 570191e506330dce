"""Mutation testing of the decision and safety modules: do their tests catch a one-line change?

    python bench/mutants.py [--only MODULE ...] [--show] [--engine postgres]

For each module below, mutmut (a well-kept mutation tester) makes every small change it knows
(a `<` for a `<=`, a constant off by one, a condition dropped…) and runs the module's unit
tests against each; a mutant no test fails "survived". The table gives, per module, mutants,
killed, survived (and the share of survivors), and those no test reached. `--show` prints each
survivor's diff: a survivor is either a missing test or an equivalent change (one that alters
nothing observable), and bench/README.md says which. Survivors that only change the letter
case of SQL text outside its quoted literals are counted apart, as equivalent (`--show` leaves
them out). Each module is tried in a copy of the
project of its own, so the working tree is never touched. `--engine postgres` runs the tests
on PostgreSQL (`$MONITOR_TEST_POSTGRES`): there a column read by a name in the wrong case
fails, where `sqlite3.Row` reads names in any case; `--engine both` counts as survivors the
mutants that survive both (each engine's own branches are then tested too).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULES = {  # module: the unit tests that guard it
    "monitor/core/deciders.py": ["tests/core/test_deciders.py"],
    "monitor/store/leases.py": ["tests/store/test_store.py"],
    "monitor/store/outbox.py": ["tests/store/test_store.py"],
    "monitor/core/secrets.py": ["tests/net/test_notify.py", "tests/telemetry/test_logs.py"],
    "monitor/telemetry/logs.py": ["tests/telemetry/test_logs.py"],
    "monitor/core/matching.py": ["tests/core/test_rules.py"],
    "monitor/net/http.py": ["tests/net/test_http.py"],
}
_COUNT = re.compile(r"(\d+)/(\d+)\s+🎉 (\d+) 🫥 (\d+)\s+⏰ (\d+)\s+🤔 (\d+)\s+🙁 (\d+)")


_QUOTED = re.compile(r"'[^']*'")
_SQL = re.compile(r"\b(select|insert|update|delete|where|set|values|order by|returning|"
                  r"coalesce|greatest|null|and|or)\b", re.I)


def sql_case_only(diff: str) -> bool:
    """Whether a mutant only changes the letter case of SQL text outside its quoted literals:
    equivalent on both engines (SQLite reads keywords and names in any case, PostgreSQL folds
    unquoted names to lower case). A row read by a name in another case is not SQL text."""
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and
               not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and
             not line.startswith("+++")]
    return bool(removed) and len(removed) == len(added) and all(
        old != new and old.lower() == new.lower() and "row[" not in old
        and _QUOTED.findall(old) == _QUOTED.findall(new) and _SQL.search(old)
        for old, new in zip(removed, added, strict=True))


def mutate(module: str, tests: list[str], show: bool,
           engine: str = "sqlite") -> tuple[int, int, set[str], int, int, set[str]]:
    """(mutants, killed, the survivors' names, not reached by a test, timed out, the
    survivors that only change the case of SQL text) for `module`."""
    with tempfile.TemporaryDirectory(prefix="monitor-mutants-") as folder:
        copy = Path(folder) / "monitor"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
            ".git", ".venv", "mutants", "__pycache__", ".mypy_cache", ".ruff_cache"))
        with (copy / "pyproject.toml").open("a") as config:
            config.write(f'\n[tool.mutmut]\nsource_paths = ["monitor/"]\n'
                         f'only_mutate = ["{module}"]\n'
                         f"pytest_add_cli_args_test_selection = {tests!r}\n"
                         .replace("'", '"'))
        run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", "2"],
                             cwd=copy, capture_output=True, text=True, timeout=3600,
                             env={**os.environ, "MONITOR_TEST_ENGINE": engine})
        found = _COUNT.findall(run.stdout.replace("\r", "\n"))
        if not found:
            raise SystemExit(f"{module}: mutmut said\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        _, total, killed, untested, timeout, _, _ = (int(n) for n in found[-1])
        results = subprocess.run([sys.executable, "-m", "mutmut", "results"], cwd=copy,
                                 capture_output=True, text=True).stdout
        survivors = set(re.findall(r"^\s*(\S+): survived$", results, re.M))
        case_only = set()
        for name in sorted(survivors):
            diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=copy,
                                  capture_output=True, text=True).stdout
            if sql_case_only(diff):
                case_only.add(name)
            elif show:
                print(f"# ({engine}) " + diff.rstrip() + "\n")
        return total, killed, survivors, untested, timeout, case_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(MODULES),
                        help="only these modules (repeatable)")
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="sqlite",
                        help="the database the tests run on")
    args = parser.parse_args()
    print("| module | mutants | killed | survived | of which SQL case only (equivalent) "
          "| others: share of those tested | no test reached | timed out |")
    print("|---|---|---|---|---|---|---|---|")
    for module, tests in MODULES.items():
        if args.only and module not in args.only:
            continue
        engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
        runs = [mutate(module, tests, args.show, engine) for engine in engines]
        total, _, _, untested, timeout, _ = runs[0]
        survivors = set.intersection(*(run[2] for run in runs))
        case_only = survivors & set.union(*(run[5] for run in runs))
        killed = total - untested - timeout - len(survivors)
        others = len(survivors) - len(case_only)
        reached = max(1, total - untested)
        print(f"| {module} | {total} | {killed} | {len(survivors)} | {len(case_only)} | "
              f"{others} ({others / reached:.0%}) | {untested} | {timeout} |", flush=True)


if __name__ == "__main__":
    main()
