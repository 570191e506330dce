"""Die with the parent: imported by the workers' fork server, and run by each worker as it starts.

A daemon killed with SIGKILL (the OOM killer, `kill -9`, a container stopped hard) runs no
cleanup: its fork server and workers would live on, adopted by init, about 150 MB each time.
Linux can send a process a signal when its parent dies (prctl PR_SET_PDEATHSIG): the fork server
asks for SIGKILL when the daemon goes, each worker when the fork server goes. Elsewhere this
does nothing. Never imported by the daemon itself, which must outlive a closed terminal.
"""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return


die_with_parent()  # on import: the fork server imports this module as it starts
