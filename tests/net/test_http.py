"""The HTTP client against a real server on 127.0.0.1."""

import asyncio
import gzip
import re
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import aiohttp.abc
import pytest

from monitor.core.errors import FetchError
from monitor.net.http import HttpClient, Limits
from tests.servers import Route, Site


def client(allow_private: bool = True, timeout: float = 5.0, concurrency: int = 8,
           per_host: int = 2, clock: Callable[[], float] = time.monotonic,
           connect_timeout: float = 2.0) -> HttpClient:
    return HttpClient(Limits(user_agent="monitor/test", timeout=timeout,
                             connect_timeout=connect_timeout,
                             concurrency=concurrency, per_host=per_host,
                             allow_private_addresses=allow_private), clock=clock)


def get(url: str, max_size: int = 1_000_000, **kwargs):
    async def run():
        http = kwargs.pop("http", None) or client()
        try:
            return await http.get(url, max_size=max_size, **kwargs)
        finally:
            await http.close()
    return asyncio.run(run())


def test_plain_get_with_validators(site: Site) -> None:
    site.routes["/f"] = Route(b"<rss/>", etag='"e1"', last_modified="Mon, 24 Nov 2025 09:00:00 GMT")
    response = get(site.url("/f"))
    assert (response.status, response.body, response.etag) == (200, b"<rss/>", '"e1"')
    assert response.last_modified == "Mon, 24 Nov 2025 09:00:00 GMT"
    assert site.requests[-1].headers["user-agent"] == "monitor/test"


def test_conditional_get_gets_304(site: Site) -> None:
    site.routes["/f"] = Route(b"<rss/>", etag='"e1"')
    response = get(site.url("/f"), etag='"e1"')
    assert response.not_modified and response.body == b""
    assert site.requests[-1].headers["if-none-match"] == '"e1"'


def test_gzip_is_decoded(site: Site) -> None:
    site.routes["/f"] = Route(b"<rss>" + "é".encode() * 1000 + b"</rss>", gzip=True)
    assert get(site.url("/f")).body.count("é".encode()) == 1000


def test_size_cap_counts_decompressed_bytes(site: Site) -> None:
    bomb = b"\0" * 20_000_000  # 20 MB of zeros, about 20 KB gzipped
    site.routes["/bomb"] = Route(bomb, gzip=True)
    with pytest.raises(FetchError, match="over the 1000000 byte cap"):
        get(site.url("/bomb"), max_size=1_000_000)
    assert len(gzip.compress(bomb)) < 1_000_000  # the cap counted what it inflated to


def test_the_decoder_stops_as_soon_as_the_cap_is_passed() -> None:
    """A bomb is not inflated whole before the cap is checked: the chunk that passes it fails,
    and the decoder never holds more than the cap and one chunk's output."""
    from monitor.net.http import _Decoder

    compressed = gzip.compress(b"\0" * 20_000_000)
    decoder = _Decoder("gzip", 1_000_000)
    fed = 0
    with pytest.raises(FetchError, match="over the 1000000 byte cap"):
        for start in range(0, len(compressed), 1024):
            decoder.feed(compressed[start:start + 1024])
            fed += 1024
    assert fed < len(compressed) // 4  # stopped early: most of the bomb never read


def test_declared_length_over_the_cap_is_refused_before_reading(site: Site) -> None:
    site.routes["/big"] = Route(b"x" * 2_000_000)
    # the announced length, not a count of what was read: nothing of the body was taken
    with pytest.raises(FetchError, match="^body of 2000000 bytes is over the 1000000 byte cap$"):
        get(site.url("/big"), max_size=1_000_000)


def test_total_deadline_stops_a_trickling_server(site: Site) -> None:
    site.routes["/slow"] = Route(b"x" * 200, trickle=20.0)  # a byte every 0.1 s: no read timeout
    with pytest.raises(FetchError, match="no complete answer within 1s") as raised:  # the
        get(site.url("/slow"), http=client(timeout=1.0))  # total deadline's
    assert raised.value.transient


def test_http_errors(site: Site) -> None:
    site.routes["/down"] = Route(b"oops", status=503)
    with pytest.raises(FetchError, match="HTTP 503"):
        get(site.url("/down"))
    with pytest.raises(FetchError, match="HTTP 404"):
        get(site.url("/nothing-here"))


def test_redirects_are_followed_and_permanent_ones_reported(site: Site) -> None:
    site.routes["/old"] = Route(status=301, headers={"Location": "/new"})
    site.routes["/new"] = Route(b"<rss/>")
    response = get(site.url("/old"))
    assert response.body == b"<rss/>" and response.permanent_url == site.url("/new")
    site.routes["/tmp"] = Route(status=302, headers={"Location": "/new"})
    assert get(site.url("/tmp")).permanent_url is None


def test_redirect_loops_end(site: Site) -> None:
    site.routes["/a"] = Route(status=302, headers={"Location": "/b"})
    site.routes["/b"] = Route(status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(site.url("/a"))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/feed", "http://localhost:9/feed", "http://[::1]:9/feed",
    "http://10.1.2.3/feed", "http://192.168.1.1/feed", "http://169.254.169.254/latest/meta-data",
])
def test_private_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(FetchError, match="private or local address"):
        get(url, http=client(allow_private=False))


def test_a_feed_polled_again_is_parsed_once_and_checked_every_time(site: Site) -> None:
    """A URL fetched conditionally (a feed) keeps its parse for its next polls; a refused one
    is refused every time, and a page fetched once leaves nothing behind."""
    site.routes["/f"] = Route(b"<rss/>", etag='"e1"')
    refusing = client(allow_private=False)

    async def run() -> list[object]:
        http = client()
        try:
            seen = [(await http.get(site.url("/f"), max_size=100, etag='"e1"')).status
                    for _ in range(3)]
            await http.get(site.url("/f"), max_size=100)
            seen.append(sorted(http._urls))  # what is kept
            for _ in range(2):
                with pytest.raises(FetchError, match="private or local address"):
                    await refusing.get("http://10.1.2.3/feed", max_size=100, etag='"e1"')
            seen.append(refusing._urls)
            return seen
        finally:
            await http.close()
            await refusing.close()

    assert asyncio.run(run()) == [304, 304, 304, [site.url("/f")], {}]


def test_every_redirect_hop_is_checked(site: Site) -> None:
    site.routes["/hop"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="only http"):
        get(site.url("/hop"))


def test_unsupported_schemes_are_refused() -> None:
    with pytest.raises(FetchError, match="only http"):
        get("file:///etc/hostname")


def test_connection_refused_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="cannot connect"):
        get("http://127.0.0.1:9/feed")


def test_a_name_that_does_not_resolve_is_remembered_for_a_while() -> None:
    """Every article of an outlet whose name fails would otherwise ask the resolver again."""
    async def twice() -> list[str]:
        http = client()
        errors = []
        try:
            for path in ("/a", "/b"):
                try:
                    await http.get(f"http://no-such-outlet.invalid{path}", max_size=1000)
                except FetchError as error:
                    errors.append(str(error))
        finally:
            await http.close()
        return errors

    first, second = asyncio.run(twice())
    assert first.startswith("cannot resolve no-such-outlet.invalid") and "remembered" not in first
    assert second == f"{first} (remembered for 60s)"


def test_waiting_for_a_busy_host_does_not_count_against_the_deadline(site: Site) -> None:
    """Three pages of one host, one at a time (per_host 1), each taking 0.8 s to send, under a
    2 s deadline: the third waits 1.6 s for its turn, then gets its own 2 s."""
    site.routes["/slow"] = Route(b"0123456789", content_type="text/html", trickle=0.8)

    async def three() -> list[object]:
        http = client(timeout=2.0, concurrency=8, per_host=1)
        try:
            return await asyncio.gather(*(http.get(site.url("/slow"), max_size=1000)
                                          for _ in range(3)), return_exceptions=True)
        finally:
            await http.close()

    results = asyncio.run(three())
    assert [getattr(result, "body", result) for result in results] == [b"0123456789"] * 3


async def body_or_error(http: HttpClient, url: str) -> object:
    """The body got from `url`, or why not."""
    try:
        return (await http.get(url, max_size=1000)).body
    except FetchError as error:
        return str(error)


def test_a_dead_host_costs_five_connections_then_fails_fast_until_it_answers(site: Site) -> None:
    """A host that drops every connection: after five failures in a row its circuit opens and
    its other pages fail at once, while another host is served. A minute later one request
    goes through (and fails: two minutes more); an answer then closes the circuit."""
    accepted: list[bool] = []  # per connection, whether it was answered
    connections: list[int] = []  # how many there were at points of the scenario
    answering = [False]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(answering[0])
        if answering[0]:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nback")
            await writer.drain()
        writer.close()

    async def scenario() -> list[object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        dead = f"http://localhost:{server.sockets[0].getsockname()[1]}"
        now = [0.0]
        http = client(timeout=2.0, concurrency=8, per_host=1, clock=lambda: now[0])

        try:
            seen: list[object] = list(await asyncio.gather(
                *(body_or_error(http, f"{dead}/{n}") for n in range(20))))
            seen.append(await body_or_error(http, site.url("/ok")))
            connections.append(len(accepted))
            now[0] += 61
            seen.append(await body_or_error(http, f"{dead}/late"))
            connections.append(len(accepted))
            seen.append(await body_or_error(http, f"{dead}/later"))
            connections.append(len(accepted))
            now[0] += 121
            answering[0] = True
            seen.append(await body_or_error(http, f"{dead}/back"))
            answering[0] = False
            # counted from zero again
            seen += [await body_or_error(http, f"{dead}/closed") for _ in range(2)]
            server.close()
            return seen
        finally:
            await http.close()

    site.routes["/ok"] = Route(b"fine")
    seen = asyncio.run(scenario())
    fast = "unreachable: 5 connection failures in a row; not tried again for 60s"
    assert seen[:20].count("connection broken") == 5
    assert sum(str(s).endswith(fast) for s in seen[:20]) == 15
    assert seen[20] == b"fine"
    assert seen[21] == "connection broken"
    assert str(seen[22]).endswith("6 connection failures in a row; not tried again for 120s")
    assert seen[23:] == [b"back", "connection broken", "connection broken"]
    after_20, after_late, after_later = connections
    per_request = after_late - after_20  # (aiohttp tries a dropped connection twice)
    assert after_20 == 5 * per_request and after_later == after_late
    assert accepted[after_later:] == [True] + [False] * 2 * per_request


def test_pages_that_hang_do_not_shut_their_server() -> None:
    """Ten hanging URLs timing out together once opened the server's circuit for 15 minutes,
    and every healthy feed of that server failed with them."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        if request.startswith(b"GET /hang"):
            await asyncio.sleep(30)  # connected, never answered
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario() -> list[object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        base = f"http://localhost:{server.sockets[0].getsockname()[1]}"
        http = client(timeout=0.5, concurrency=32, per_host=16)

        try:
            hung = await asyncio.gather(*(body_or_error(http, f"{base}/hang/{n}")
                                          for n in range(10)))
            return [*hung, *[await body_or_error(http, f"{base}/ok/{n}") for n in range(3)]]
        finally:
            await http.close()
            server.close()

    seen = asyncio.run(scenario())
    assert seen[:10] == ["no complete answer within 0.5s"] * 10
    assert seen[10:] == [b"ok"] * 3


def test_a_circuit_backs_off_per_opening_not_per_failure() -> None:
    """Sixteen requests failing together once doubled the wait eleven times (15 minutes)."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # accepted, dropped

    async def scenario() -> list[object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        dead = f"http://localhost:{server.sockets[0].getsockname()[1]}"
        now = [0.0]
        http = client(timeout=2.0, concurrency=32, per_host=16, clock=lambda: now[0])

        try:
            await asyncio.gather(*(body_or_error(http, f"{dead}/{n}") for n in range(16)))
            first = await body_or_error(http, f"{dead}/first")
            now[0] += 61
            await body_or_error(http, f"{dead}/trial")  # the trial after the wait fails: opened
            # again
            return [first, await body_or_error(http, f"{dead}/second")]
        finally:
            await http.close()
            server.close()

    first, second = asyncio.run(scenario())
    assert str(first).endswith("not tried again for 60s")
    assert str(second).endswith("not tried again for 120s")


def error_of(url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as raised:
        get(url, **kwargs)
    return raised.value


async def serving(answers: dict[str, bytes], delay: float = 0.0) -> asyncio.Server:
    """A raw server on 127.0.0.1 writing `answers[path]` (bytes as they are, however broken)
    after `delay` seconds, then hanging up."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            writer.write(answers[request.split(b" ")[1].decode()])
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client hung up first
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_what_a_request_asks_for_reaches_the_server(site: Site) -> None:
    modified = "Mon, 24 Nov 2025 09:00:00 GMT"
    site.routes["/f"] = Route(b"<rss/>", last_modified=modified)
    assert get(site.url("/f"), last_modified=modified).not_modified
    assert site.requests[-1].headers["if-modified-since"] == modified
    get(site.url("/f"))
    assert site.requests[-1].headers["accept"] == "*/*"
    assert site.requests[-1].headers["accept-encoding"] == "gzip, deflate"
    get(site.url("/f"), accept="application/rss+xml")
    assert site.requests[-1].headers["accept"] == "application/rss+xml"


def test_cookies_are_not_sent_back(site: Site) -> None:
    """A session cookie would make a site's answers depend on what the daemon fetched before.
    (By name: a cookie jar takes no cookie from an IP address anyway.)"""
    site.routes["/f"] = Route(b"<rss/>", headers={"Set-Cookie": "session=abc; Path=/"})
    url = site.url("/f").replace("127.0.0.1", "localhost")

    async def twice() -> None:
        http = client()
        try:
            for _ in range(2):
                await http.get(url, max_size=1000)
        finally:
            await http.close()

    asyncio.run(twice())
    assert [request.headers.get("cookie") for request in site.requests] == [None, None]


def test_a_proxy_set_in_the_environment_is_not_used(site: Site,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    site.routes["/f"] = Route(b"<rss/>")
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    assert get(site.url("/f")).body == b"<rss/>"


def test_a_server_that_never_accepts_the_connection_fails_at_the_connect_timeout() -> None:
    """A listening socket whose accept queue is full drops new connections' SYNs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    queued = [socket.socket() for _ in range(3)]
    try:
        for waiting in queued:
            waiting.setblocking(False)
            waiting.connect_ex(server.getsockname())
        error = error_of(f"http://127.0.0.1:{server.getsockname()[1]}/f",
                         http=client(connect_timeout=0.5))
    finally:
        for sock in (*queued, server):
            sock.close()
    assert (str(error), error.transient) == ("no connection within 0.5s", True)


@pytest.mark.parametrize(("url", "allow_private", "reason", "transient"), [
    ("http://localhost:9/f", False, r"refused: localhost is a private or local address "
     r"\((127\.0\.0\.1|::1)\); set network\.allow_private_addresses to allow it", False),
    ("http://10.1.2.3/f", False, r"refused: 10\.1\.2\.3 is a private or local address "
     r"\(10\.1\.2\.3\); set network\.allow_private_addresses to allow it", False),
    ("ftp://example.org/f", True, r"refused: ftp scheme, only http\(s\) is fetched", False),
    ("example.org/f", True, r"refused: no scheme, only http\(s\) is fetched", False),
    ("http:///f", True, r"refused: no host in the URL", False),
    ("http://example.org:port/f", True, "invalid URL", False),  # aiohttp's InvalidURL
    ("http://[::1/f", True, "invalid URL", False),  # a ValueError of urlsplit
    ("http://127.0.0.1:9/f", True, "cannot connect", True),
])
def test_why_a_fetch_failed_and_whether_to_try_again(
        url: str, allow_private: bool, reason: str, transient: bool) -> None:
    error = error_of(url, http=client(allow_private=allow_private))
    assert re.fullmatch(reason, str(error)) and error.transient is transient


def test_https_is_fetched_not_refused(site: Site) -> None:
    error = error_of(site.url("/f").replace("http://", "https://"))  # plain HTTP answers TLS
    assert not str(error).startswith("refused")


@pytest.mark.parametrize(("answer", "reason"), [
    (b"", "server closed the connection"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", "connection broken while reading"),
    (b"NOT HTTP AT ALL\r\n\r\n", "server broke the HTTP protocol"),
])
def test_a_broken_answer_is_named(answer: bytes, reason: str) -> None:
    async def fetch() -> object:
        server = await serving({"/f": answer})
        http = client()
        try:
            return await body_or_error(http, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/f")
        finally:
            await http.close()
            server.close()

    assert asyncio.run(fetch()) == reason


def test_an_error_without_a_reason_of_its_own_is_named_by_its_kind() -> None:
    from monitor.net.http import _describe

    assert _describe(aiohttp.ClientConnectionError("at http://x/?token=1")) == "ClientConnectionError"


@pytest.mark.parametrize(("status", "retry_after", "transient"), [
    (429, 120.0, True), (503, 120.0, True), (500, None, True), (404, None, False),
    (300, None, False),  # not a redirect: an answer that is not the document
])
def test_http_errors_say_when_to_try_again(site: Site, status: int, retry_after: float | None,
                                           transient: bool) -> None:
    site.routes["/f"] = Route(b"busy", status=status, headers={"Retry-After": "120"})
    error = error_of(site.url("/f"))
    assert (str(error), error.retry_after, error.transient) == \
        (f"HTTP {status}", retry_after, transient)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_body_of_exactly_the_cap_is_fetched(site: Site, compressed: bool) -> None:
    site.routes["/f"] = Route(b"x" * 1000, gzip=compressed)
    assert get(site.url("/f"), max_size=1000).body == b"x" * 1000


def test_an_endless_chunked_answer_stops_at_the_cap(site: Site) -> None:
    """No Content-Length to refuse it by: the bytes read are counted, over all the reads."""
    site.routes["/f"] = Route(b"x" * 100, endless=True)
    with pytest.raises(FetchError, match="^body is over the 1000000 byte cap$"):
        get(site.url("/f"), max_size=1_000_000)


def test_a_location_on_an_answer_that_is_not_a_redirect_is_not_followed(site: Site) -> None:
    site.routes["/f"] = Route(b"<rss/>", headers={"Location": "/elsewhere"})
    assert get(site.url("/f")).body == b"<rss/>"


def test_five_redirects_are_followed_not_six(site: Site) -> None:
    for hop in range(6):
        site.routes[f"/{hop}"] = Route(status=302, headers={"Location": f"/{hop + 1}"})
    site.routes["/6"] = Route(b"<rss/>")
    response = get(site.url("/1"))
    assert (response.body, response.url) == (b"<rss/>", site.url("/6"))
    with pytest.raises(FetchError, match="^more than 5 redirects$"):
        get(site.url("/0"))


def test_the_total_deadline_spans_every_redirect() -> None:
    """Four hops of 0.5 s each under a 1 s deadline: each would fit, all of them do not."""
    answers = {f"/{hop}": f"HTTP/1.1 302 Found\r\nLocation: /{hop + 1}\r\nContent-Length: 0"
               f"\r\n\r\n".encode() for hop in range(3)}
    answers["/3"] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def fetch() -> object:
        server = await serving(answers, delay=0.5)
        http = client(timeout=1.0)
        try:
            return await body_or_error(http, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/0")
        finally:
            await http.close()
            server.close()

    assert asyncio.run(fetch()) == "no complete answer within 1s"


def test_a_closed_client_can_be_closed_again_and_used_again(site: Site) -> None:
    site.routes["/f"] = Route(b"<rss/>")

    async def use() -> list[bytes]:
        http = client()
        bodies = [(await http.get(site.url("/f"), max_size=1000)).body]
        await http.close()
        await http.close()
        try:
            bodies.append((await http.get(site.url("/f"), max_size=1000)).body)
        finally:
            await http.close()
        return bodies

    assert asyncio.run(use()) == [b"<rss/>", b"<rss/>"]


def test_a_circuit_closes_at_its_instant_and_on_any_answer() -> None:
    from monitor.net.http import _Circuits

    now = [0.0]
    circuits = _Circuits(lambda: now[0])

    def opened_for() -> str | None:
        try:
            circuits.check("h:80")
        except FetchError as error:
            assert error.transient
            return str(error).removeprefix("h:80 unreachable: ")
        return None

    for _ in range(5):
        circuits.failed("h:80")
    assert opened_for() == "5 connection failures in a row; not tried again for 60s"
    now[0] = 60.0
    assert opened_for() is None  # its instant: closed
    circuits.failed("h:80")
    assert opened_for() == "6 connection failures in a row; not tried again for 120s"
    circuits.answered("h:80")  # a request under way before it opened
    assert opened_for() is None
    for _ in range(5):
        circuits.failed("h:80")
    assert opened_for() == "5 connection failures in a row; not tried again for 60s"  # reset


def test_retry_after_in_seconds_or_as_a_date() -> None:
    from email.utils import formatdate

    from monitor.net.http import retry_after_seconds

    in_an_hour = time.time() + 3600
    assert retry_after_seconds(" 120 ") == 120.0
    assert retry_after_seconds(formatdate(1_764_000_000, usegmt=True), now=1_763_999_900) == 100.0
    assert retry_after_seconds(formatdate(1_764_000_000, usegmt=True), now=1_764_000_100) == 0.0
    assert 3500 < (retry_after_seconds(formatdate(in_an_hour, usegmt=True)) or 0) <= 3600
    assert retry_after_seconds("soon") is None and retry_after_seconds("") is None


async def resolved(resolver: Any, host: str) -> object:
    """The addresses `resolver` gives for `host`, or why it refused."""
    try:
        return [entry["host"] for entry in await resolver.resolve(host, 80, socket.AF_INET)]
    except OSError as error:
        return str(error)


def test_a_failed_name_is_remembered_until_its_instant_and_the_reason_is_in_words() -> None:
    from monitor.net.http import _GuardedResolver

    now = [0.0]

    async def scenario() -> list[object]:
        resolver = _GuardedResolver(True, clock=lambda: now[0])
        seen = [await resolved(resolver, "no-such-outlet.invalid")]
        now[0] = 59.9
        seen.append(await resolved(resolver, "no-such-outlet.invalid"))
        now[0] = 60.0
        seen.append(await resolved(resolver, "no-such-outlet.invalid"))  # asked again
        return seen

    first, remembered, again = asyncio.run(scenario())
    assert str(first).startswith("cannot resolve no-such-outlet.invalid: ")
    assert "[Errno" not in str(first)  # the words, not the error's repr
    assert (remembered, again) == (f"{first} (remembered for 60s)", first)


def test_failed_names_past_ten_thousand_forget_the_expired_ones() -> None:
    from monitor.net.http import _GuardedResolver

    async def scenario() -> list[str]:
        resolver = _GuardedResolver(True, clock=lambda: 100.0)
        resolver._failed = {f"old{n}.invalid": (100.0, "expired now") for n in range(10_000)}
        await resolved(resolver, "no-such-outlet.invalid")
        return list(resolver._failed)

    assert asyncio.run(scenario()) == ["no-such-outlet.invalid"]


def test_the_guard_keeps_the_public_addresses_of_a_name_and_refuses_a_private_one() -> None:
    """A name resolving to both (DNS rebinding): only its public addresses are connected to.
    No local resolver gives public addresses: a stand-in one answers here."""
    from monitor.net.http import _GuardedResolver

    class Zone(aiohttp.abc.AbstractResolver):
        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET
                          ) -> list[aiohttp.abc.ResolveResult]:
            return [{"hostname": host, "host": address, "port": port, "family": family,
                     "proto": 0, "flags": 0} for address in ("10.0.0.7", "93.184.215.14")]

        async def close(self) -> None:
            pass

    async def scenario() -> list[object]:
        guarded = _GuardedResolver(False)
        guarded._resolver = Zone()  # type: ignore[assignment]
        return [await resolved(guarded, "rebinding.example"),
                await resolved(_GuardedResolver(False), "localhost")]

    assert asyncio.run(scenario()) == [
        ["93.184.215.14"],
        "refused: localhost is a private or local address (127.0.0.1); "
        "set network.allow_private_addresses to allow it"]


def decoded(encoding: str, body: bytes, max_size: int = 1_000_000) -> bytes:
    """`body` fed to a decoder 7 bytes at a time."""
    from monitor.net.http import _Decoder

    decoder = _Decoder(encoding, max_size)
    for start in range(0, len(body), 7):
        decoder.feed(body[start:start + 7])
    return decoder.finish()


def raw_deflate(data: bytes) -> bytes:
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeezer.compress(data) + squeezer.flush()


TEXT = "Dépêche : « 5 000 manifestants » à Paris. ".encode() * 20


@pytest.mark.parametrize(("encoding", "body"), [
    ("identity", TEXT), (" IDENTITY ", TEXT), ("x-gzip", gzip.compress(TEXT)),
    ("X-Gzip", gzip.compress(TEXT)), ("deflate", zlib.compress(TEXT)),
    ("Deflate", raw_deflate(TEXT)),  # "deflate" sent without its zlib header, as IIS did
    ("gzip", gzip.compress(TEXT[:300]) + gzip.compress(TEXT[300:])),  # two gzip members
])
def test_every_content_encoding_a_server_sends_is_decoded(encoding: str, body: bytes) -> None:
    assert decoded(encoding, body) == TEXT


@pytest.mark.parametrize(("encoding", "body", "reason"), [
    ("gzip", raw_deflate(TEXT), "corrupt compressed body"),  # raw deflate only under "deflate"
    ("gzip", b"<html>not gzip</html>", "corrupt compressed body"),
    ("deflate", b"\xff" * 20, "corrupt compressed body"),  # neither zlib nor raw deflate
    ("br", TEXT, "unsupported content-encoding 'br'"),
    # sent whole as far as the HTTP framing goes, yet the stream stops before its end
    ("gzip", gzip.compress(TEXT)[:-8], "compressed body cut short"),  # no CRC and size
    ("deflate", zlib.compress(TEXT)[:-4], "compressed body cut short"),  # no checksum
    ("deflate", raw_deflate(TEXT)[:len(raw_deflate(TEXT)) // 2], "compressed body cut short"),
])
def test_a_body_that_does_not_decode_is_an_error(encoding: str, body: bytes, reason: str) -> None:
    with pytest.raises(FetchError) as raised:
        decoded(encoding, body)
    assert str(raised.value) == reason


@pytest.mark.parametrize("before", [b"", bytes(range(256)) * 3500])
def test_a_bomb_is_inflated_no_further_than_the_cap(before: bytes) -> None:
    """Whether it comes whole in one read, or after a body of 0.9 MB: the decoder holds about
    the cap (1 MB), not the 20 MB the bomb inflates to."""
    from monitor.net.http import _Decoder

    chunks = [gzip.compress(before), gzip.compress(b"\0" * 20_000_000)]
    decoder = _Decoder("gzip", 1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="over the 1000000 byte cap"):
            for chunk in chunks:
                decoder.feed(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000
