"""`http.listen` addresses: where the console, `/healthz` and `/metrics` listen
(`monitor/web/server.py`), and whether that is this machine only."""

from __future__ import annotations

import ipaddress

_MAX_REQUEST = 8192
_DEADLINE = 5.0


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:9321`, `[::1]:9321`, `0.0.0.0:9321`, or a port alone (then 127.0.0.1)."""
    host, _, port = text.strip().rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise ValueError(f"{text!r} is not an address such as 127.0.0.1:9321")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
