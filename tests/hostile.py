"""What an attacker (or an unlucky user) sends, and how a test measures what it cost: shared
by the tests and bench/attacks.py."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.e2e.helpers import PROJECT, environment


def billion_laughs() -> str:
    """Nine levels of nine aliases: 387 million strings from about 350 bytes."""
    text, previous = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n', "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        previous = name
    return text + "rules: *i\n"


# Runs a command and prints the largest resident size any of its processes reached: measured
# from a fresh parent, since the test process's own RUSAGE_CHILDREN is the largest of every
# child the whole session has reaped (another test's daemon with spaCy loaded, say).
_MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(code)")


def run_measured(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """`command`'s result (its stderr without the figure) and its peak RSS in MB."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=PROJECT,
                            env=environment(), capture_output=True, text=True, timeout=120)
    *lines, peak = result.stderr.rstrip("\n").split("\n")
    result.stderr = "\n".join(lines)
    return result, int(peak) / 1024


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end has closed `sock` (without waiting for it)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
