"""The optional HTTP endpoint: `/healthz` for liveness probes, `/metrics` for Prometheus.

A deliberately tiny asyncio server on the daemon's own loop (no thread, no framework): it reads
one request line and headers within a deadline and a size cap, answers, and closes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
_MAX_REQUEST = 8192
_DEADLINE = 5.0


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:9321`, `[::1]:9321`, `0.0.0.0:9321`, or a port alone (then 127.0.0.1)."""
    host, _, port = text.strip().rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not an address such as 127.0.0.1:9321")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HealthServer:
    def __init__(self, listen: str, health: Callable[[], tuple[bool, str]],
                 metrics: Callable[[], bytes]) -> None:
        self._host, self._port = parse_listen(listen)
        self._health = health
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, self._host, self._port)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self._host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_DEADLINE):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _MAX_REQUEST:
                raise ValueError("request too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, kind, body = self._route(method, path.split("?", 1)[0])
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, kind, body = "400 Bad Request", "text/plain", b"bad request\n"
        except Exception:  # a bug here must not take the daemon down
            log.exception("health endpoint failed")
            status, kind, body = "500 Internal Server Error", "text/plain", b"error\n"
        try:
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: "
                         f"{len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/healthz":
            ok, reason = self._health()
            return ("200 OK" if ok else "503 Service Unavailable"), "text/plain", \
                f"{reason}\n".encode()
        if path == "/metrics":
            return "200 OK", "text/plain; version=0.0.4; charset=utf-8", self._metrics()
        return "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
