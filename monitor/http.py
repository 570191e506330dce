"""The daemon's one HTTP client: polite, bounded, and refusing to be pointed inside the network.

Every request has a total deadline (not just per-read timeouts), a size cap counted after
decompression (a gzip bomb stops at the cap), per-host and global concurrency limits, and an address
guard checked on every redirect hop: a feed cannot send the daemon to 127.0.0.1, 10.0.0.0/8, a
link-local metadata service and so on unless the config allows private addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.errors import FetchError

MAX_REDIRECTS = 5
_PERMANENT = (301, 308)
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class Response:
    """A finished fetch. `not_modified` is a 304: body empty, validators unchanged."""

    url: str  # after redirects
    status: int
    body: bytes
    headers: dict[str, str]
    permanent_url: str | None = None  # set when every redirect on the way was permanent

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def max_age(self) -> float | None:
        """Cache-Control max-age: how long the server says this answer stays fresh."""
        for directive in self.headers.get("cache-control", "").split(","):
            name, _, value = directive.strip().partition("=")
            if name.lower() == "max-age" and value.strip().isdigit():
                return float(value)
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    user_agent: str
    timeout: float  # total, per request, body included
    connect_timeout: float
    concurrency: int
    per_host: int
    allow_private_addresses: bool


class HttpClient:
    """One connection pool per host (httpcore's pool bookkeeping costs grow with the number of
    connections it holds: small pools keep a 304 cheap); create it inside the running event
    loop, close it after."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._global = asyncio.Semaphore(limits.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(limits.per_host))
        self._clients: dict[tuple[str, str, int | None], httpx.AsyncClient] = {}

    def _client_for(self, url: str) -> httpx.AsyncClient:
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port)
        client = self._clients.get(origin)
        if client is None:
            limits = self._limits
            client = self._clients[origin] = httpx.AsyncClient(
                follow_redirects=False,
                headers={"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"},
                timeout=httpx.Timeout(limits.timeout, connect=limits.connect_timeout),
                limits=httpx.Limits(max_connections=limits.per_host,
                                    max_keepalive_connections=limits.per_host),
                trust_env=False,
            )
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def get(self, url: str, *, max_size: int, etag: str | None = None,
                  last_modified: str | None = None, accept: str = "*/*") -> Response:
        """GET `url`, following redirects, within the total deadline; raise FetchError on failure."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with asyncio.timeout(self._limits.timeout):
                return await self._follow(url, headers, max_size)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self._limits.timeout:g}s") from None
        except httpx.HTTPError as error:
            raise FetchError(_describe(error)) from error

    async def _follow(self, url: str, headers: dict[str, str], max_size: int) -> Response:
        start, permanent = url, True
        for _ in range(MAX_REDIRECTS + 1):
            host = await self._guard(url)
            async with self._global, self._hosts[host]:
                client = self._client_for(url)
                request = client.build_request("GET", url, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        permanent = permanent and response.status_code in _PERMANENT
                        url = urljoin(url, response.headers["location"])
                        continue
                    body = await _read(response, max_size)
                finally:
                    await response.aclose()
            return Response(url=url, status=response.status_code, body=body,
                            headers={k.lower(): v for k, v in response.headers.items()},
                            permanent_url=url if permanent and url != start else None)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _guard(self, url: str) -> str:
        """Refuse non-http(s) URLs and, unless allowed, hosts resolving to non-public addresses."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused: {parts.scheme or 'no'} scheme, only http(s) is fetched")
        host = parts.hostname
        if not self._limits.allow_private_addresses:
            for address in await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
                if not address.is_global:
                    raise FetchError(
                        f"refused: {host} is a private or local address ({address}); "
                        "set network.allow_private_addresses to allow it")
        return host


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


async def _read(response: httpx.Response, max_size: int) -> bytes:
    status = response.status_code
    if status == 304:
        return b""
    if not 200 <= status < 300:
        retry_after = retry_after_seconds(response.headers.get("retry-after")) \
            if status in (429, 503) else None
        raise FetchError(f"HTTP {status}", retry_after)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_size:
        raise FetchError(f"body of {int(declared)} bytes is over the {max_size} byte cap")
    decoder = _Decoder(response.headers.get("content-encoding", ""), max_size)
    async for chunk in response.aiter_raw():
        decoder.feed(chunk)
    return decoder.finish()


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchError(f"cannot resolve {host}: {error.strerror or error}") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


class _Decoder:
    """Content-Encoding decoding that never holds more than `max_size` decoded bytes."""

    def __init__(self, encoding: str, max_size: int) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
            self._raw_deflate_ok = encoding == "deflate"
        else:
            raise FetchError(f"unsupported content-encoding {encoding!r}")
        self._max = max_size
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        if self._zlib is None:
            self._keep(data)
            return
        while data:
            room = self._max - self._size + 1
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error:
                if self._size or not self._raw_deflate_ok:
                    raise FetchError("corrupt compressed body") from None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw
                self._raw_deflate_ok = False
                continue
            self._keep(out)
            data = self._zlib.unconsumed_tail
            if self._zlib.eof and self._zlib.unused_data:  # concatenated gzip members
                data = self._zlib.unused_data
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max:
            raise FetchError(f"body is over the {self._max} byte cap")
        self._parts.append(data)

    def finish(self) -> bytes:
        if self._zlib is not None:
            self._keep(self._zlib.flush())
        return b"".join(self._parts)


def _describe(error: httpx.HTTPError) -> str:
    """A short reason without URLs' query strings (they may hold tokens)."""
    kind = type(error).__name__
    reasons = {
        "ConnectError": "cannot connect",
        "ConnectTimeout": "connection timed out",
        "ReadTimeout": "server stopped answering",
        "RemoteProtocolError": "server broke the HTTP protocol",
        "ReadError": "connection broken while reading",
    }
    return reasons.get(kind, kind)
