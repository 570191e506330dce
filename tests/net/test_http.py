"""The HTTP client against a real server on 127.0.0.1."""

import asyncio
import gzip
import time
from collections.abc import Callable

import pytest

from monitor.core.errors import FetchError
from monitor.net.http import HttpClient, Limits
from tests.servers import Route, Site


def client(allow_private: bool = True, timeout: float = 5.0, concurrency: int = 8,
           per_host: int = 2, clock: Callable[[], float] = time.monotonic) -> HttpClient:
    return HttpClient(Limits(user_agent="monitor/test", timeout=timeout, connect_timeout=2.0,
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
    with pytest.raises(FetchError, match="no complete answer within 1s"):  # the total deadline's
        get(site.url("/slow"), http=client(timeout=1.0))


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
