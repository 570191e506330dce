import os
import socket
from pathlib import Path

from monitor.daemon.systemd import Notifier


def listen(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    return sock


def test_messages_reach_the_socket(tmp_path: Path) -> None:
    sock = listen(str(tmp_path / "notify"))
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    notifier.ready("3 feed(s)")
    notifier.watchdog()
    notifier.stopping()
    assert [sock.recv(1024) for _ in range(3)] == [b"READY=1\nSTATUS=3 feed(s)", b"WATCHDOG=1",
                                                  b"STOPPING=1"]


def test_abstract_socket_addresses(tmp_path: Path) -> None:
    name = f"monitor-test-{os.getpid()}"
    sock = listen("\0" + name)
    Notifier({"NOTIFY_SOCKET": "@" + name}).reloading()
    assert sock.recv(1024).startswith(b"RELOADING=1\nMONOTONIC_USEC=")


def test_silent_without_systemd_and_watchdog_interval() -> None:
    quiet = Notifier({})
    assert not quiet.enabled and quiet.watchdog_interval is None
    quiet.ready()  # nothing to send to: no error
    assert Notifier({"WATCHDOG_USEC": "120000000"}).watchdog_interval == 60.0
    assert Notifier({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
