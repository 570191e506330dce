"""Real local servers for tests: an HTTP site (feeds, pages, and a webhook catcher) and an SMTP
server, all on 127.0.0.1, each recording what it received."""

from __future__ import annotations

import email
import gzip
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds to spend sending the body a byte at a time (a slow server)
    endless: bool = False  # send the body again and again, never ending the response


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it was received


class Site:
    """A threaded HTTP server. GET serves `routes` (with ETag / Last-Modified → 304);
    POST to any path is accepted and recorded, like a webhook receiver."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.fail_posts = 0  # answer this many POSTs with a 500 before accepting them
        self.post_delay = 0.0  # seconds before answering a POST (a slow webhook)
        self.flapping: dict[str, int] = {}  # path → POSTs so far: every other one gets a 500
        self.refused: list[Request] = []  # POSTs answered with a 500
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _read(self) -> Request:
                length = int(self.headers.get("Content-Length") or 0)
                return Request(self.command, self.path,
                               {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length) if length else b"")

            def _record(self) -> Request:
                request = self._read()
                with site._lock:
                    site.requests.append(request)
                return request

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                request = self._record()
                route = site.routes.get(request.path)
                if route is None:
                    self._send(404, b"<html><body>Page introuvable</body></html>",
                               {"Content-Type": "text/html"})
                    return
                validators = {}
                if route.etag:
                    validators["ETag"] = route.etag
                if route.last_modified:
                    validators["Last-Modified"] = route.last_modified
                if (route.etag and request.headers.get("if-none-match") == route.etag) or (
                        route.last_modified
                        and request.headers.get("if-modified-since") == route.last_modified):
                    self._send(304, b"", validators)
                    return
                body = route.body
                headers = {"Content-Type": route.content_type, **validators, **route.headers}
                if route.gzip:
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                if route.trickle:
                    self._trickle(route.status, body, headers, route.trickle)
                    return
                if route.endless:
                    self._endless(body, headers)
                    return
                self._send(route.status, body, headers)

            def _endless(self, body: bytes, headers: dict) -> None:
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n"
                try:
                    for _ in range(100_000):  # bounded, but far beyond any size cap
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the client hung up, as it should

            def _trickle(self, status: int, body: bytes, headers: dict, seconds: float) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                pause = seconds / max(1, len(body))
                try:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(pause)
                except OSError:
                    pass  # the client gave up, as it should

            def do_POST(self) -> None:
                request = self._read()
                if len(request.body) < int(self.headers.get("Content-Length") or 0):
                    self.close_connection = True  # the sender died mid-request (a test kills
                    return  # daemons): like any server, nothing was received
                with site._lock:  # recorded with its fate: a reader never sees one without it
                    failing = site.fail_posts > 0
                    site.fail_posts -= failing
                    if self.path in site.flapping:
                        failing = site.flapping[self.path] % 2 == 0
                        site.flapping[self.path] += 1
                    site.requests.append(request)
                    if failing:
                        site.refused.append(request)
                if site.post_delay:
                    time.sleep(site.post_delay)
                if failing:
                    self._send(500, b'{"error": "try again"}', {"Content-Type": "application/json"})
                    return
                self._send(200, b'{"ok": true}', {"Content-Type": "application/json"})

        self._server = _QuietServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def serve_fixture(self, path: str, fixture: str, **route: object) -> None:
        """Serve a fixture file, its `{{BASE}}` placeholders pointing at this server."""
        raw = (FIXTURES / fixture).read_bytes().replace(b"{{BASE}}", self.base.encode())
        self.routes[path] = Route(body=raw, **route)

    def got(self, method: str = "GET", path_prefix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == method and r.path.startswith(path_prefix)]


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-answer is what the tests provoke: no traceback for it. A listen
    backlog of 128, not 5: past it, connections lose their SYN and wait a second or more."""

    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """A real SMTP server (aiosmtpd) keeping every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(email.message_from_bytes(envelope.content,  # type: ignore[attr-defined]
                                                      policy=policy.default))
        return "250 OK"

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def url(self, to: str = "veille@example.org") -> str:
        return (f"mailto://127.0.0.1:{self.port}?from=monitor@example.org&to={to}"
                "&mode=insecure")
