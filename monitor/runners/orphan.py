"""Die with the parent: the workers' fork server and each worker ask for it as they start.

A daemon killed with SIGKILL (the OOM killer, `kill -9`, a container stopped hard) runs no
cleanup: its fork server and workers would live on, adopted by init, about 150 MB each time (the
workers hold the pipe whose end tells the fork server the daemon is gone, so it never hears).
Linux can send a process a signal when its parent dies (prctl PR_SET_PDEATHSIG): the fork server
asks for SIGKILL when the daemon goes, each worker when the fork server goes. Elsewhere this
does nothing. The daemon itself never calls it: it must outlive a closed terminal.
"""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
PARENT = "MONITOR_PARENT_PID"  # set by the daemon before it starts the fork server
FORK_SERVER = "MONITOR_FORK_SERVER_PID"  # set by the fork server for the workers it forks


def die_with_parent(expected: int | None = None) -> None:
    """Ask for SIGKILL when the parent goes; exit at once if it went before we asked (the
    parent is then no longer `expected`)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    if expected is not None and os.getppid() != expected:
        os._exit(0)


def arm_fork_server() -> None:
    """In the fork server: its parent is the daemon, whose pid the daemon left in PARENT."""
    die_with_parent(_pid(PARENT))
    os.environ[FORK_SERVER] = str(os.getpid())


def arm_worker() -> None:
    """In a worker: its parent is the fork server, whose pid it left in FORK_SERVER."""
    die_with_parent(_pid(FORK_SERVER))


def _pid(variable: str) -> int | None:
    value = os.environ.get(variable, "")
    return int(value) if value.isdigit() else None
