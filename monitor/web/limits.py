"""What clients may hold of the console: connections (in all, and per address) and time (to
send a request's headers, to finish a request). The console lives in the daemon's process and
shares its file descriptors: 1,100 idle half-sent requests once left feed polls without
sockets (EMFILE) and /healthz unreachable. Past a limit a connection is closed at once; the
daemon's own work keeps the descriptors it needs."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256  # in all: far below the usual 1,024 descriptors, and the unit's 65,536
MAX_PER_CLIENT = 32  # per address: a browser opens six
HEADER_DEADLINE = 10.0  # to send a request's headers, on a new or a kept-alive connection
REQUEST_DEADLINE = 60.0  # to read its body and answer it (the tester's own work is bounded)


class Connections:
    """The console's open connections, counted, and each one's deadline for its next request's
    headers."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_client: int = MAX_PER_CLIENT,
                 header_deadline: float = HEADER_DEADLINE) -> None:
        self.total, self.per_client, self.header_deadline = total, per_client, header_deadline
        self._clients: Counter[str] = Counter()
        self._admitted: set[asyncio.Transport] = set()
        self._deadlines: dict[asyncio.Transport, asyncio.TimerHandle] = {}

    @property
    def open(self) -> int:
        return self._clients.total()

    def admit(self, transport: asyncio.Transport, client: str) -> bool:
        if self.open >= self.total or self._clients[client] >= self.per_client:
            log.warning("console: a connection from %s refused: %d open, %d from it (limits "
                        "%d, %d)", client, self.open, self._clients[client], self.total,
                        self.per_client)
            return False
        self._clients[client] += 1
        self._admitted.add(transport)
        self.waiting(transport)
        return True

    def waiting(self, transport: asyncio.Transport) -> None:
        """Its next request's headers are due within the deadline, or it is closed."""
        self.reading(transport)
        if transport in self._admitted:  # (a test server's connections are not counted)
            self._deadlines[transport] = asyncio.get_running_loop().call_later(
            self.header_deadline, transport.abort)

    def reading(self, transport: asyncio.Transport) -> None:
        """A request's headers are in: no deadline while it is answered (REQUEST_DEADLINE is
        the handler's)."""
        timer = self._deadlines.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def closed(self, transport: asyncio.Transport, client: str) -> None:
        self.reading(transport)
        self._admitted.discard(transport)
        self._clients[client] -= 1
        if self._clients[client] <= 0:
            del self._clients[client]


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, admitted or closed at once."""

    def __init__(self, inner: Any, connections: Connections) -> None:  # a RequestHandler
        self._inner, self._connections = inner, connections
        self._transport: asyncio.Transport | None = None
        self._client = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP connection's
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if peer else "?"
        if not self._connections.admit(transport, self._client):
            transport.abort()
            return
        self._transport = transport
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._connections.closed(self._transport, self._client)
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.TCPSite):
    """aiohttp's TCP site, each connection counted by `connections`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int,
                 connections: Connections) -> None:
        super().__init__(runner, host, port, backlog=128)
        self._connections = connections

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Counted(server(), self._connections), self._host, self._port,
            backlog=self._backlog, reuse_address=self._reuse_address)


@web.middleware
async def deadlines(request: web.Request, handler: Any) -> web.StreamResponse:
    """Headers in: the connection's header deadline gives way to the request's own; once the
    answer is sent, the next request's headers are due in turn."""
    connections: Connections = request.app[CONNECTIONS]
    transport = request.transport
    if transport is not None:
        connections.reading(transport)
    try:
        async with asyncio.timeout(REQUEST_DEADLINE):
            response: web.StreamResponse = await handler(request)
            return response
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request took too long (body too slow?)") from None
    finally:
        if transport is not None and not transport.is_closing():
            connections.waiting(transport)


CONNECTIONS: web.AppKey[Connections] = web.AppKey("connections", Connections)
