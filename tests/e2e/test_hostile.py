"""A farm of broken and hostile feeds and pages beside one good feed: none crashes the daemon,
blocks the others or makes memory grow without bound, and each failure says why."""

from __future__ import annotations

import json
import re
import resource
import socket
import subprocess
import sys

import pytest

from tests.db import connect
from tests.e2e.helpers import PROJECT, environment, write_config
from tests.hostile import closed_by_peer, run_measured
from tests.servers import Route, Site, free_port, wait_for

GOOD = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bon</title>
<item><title>Missiles Tomahawk : feu vert américain</title><link>{base}/good-page</link>
<description>Washington autorise la livraison de missiles Tomahawk à l'Ukraine.</description>
</item></channel></rss>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>
<link>http://example.org/x</link></item></channel></rss>"""

LATIN1_DECLARED_UTF8 = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                        '<title>Mal étiqueté</title><item><title>Tempête sur la Manche</title>'
                        '<link>{base}/latin1-page</link></item></channel></rss>')


def test_a_hostile_farm_beside_a_good_feed(tmp_path, site: Site) -> None:
    site.routes["/good.xml"] = Route(GOOD.format(base=site.base).encode())
    site.routes["/good-page"] = Route(b"<html><body><article><p>" + b"Texte. " * 2_900_000 +
                                      b"</p></article></body></html>",
                                      content_type="text/html")  # a 20 MB page
    hostile = {
        "slow": Route(GOOD.format(base=site.base).encode(), trickle=60.0),
        "endless": Route(b"<item>" * 10_000, endless=True),
        "bomb": Route(b"<rss>" + b" " * 50_000_000, gzip=True),
        "loop": Route(status=302, headers={"Location": "/feeds/loop"}),
        "laughs": Route(BILLION_LAUGHS),
        "html": Route(b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>",
                      content_type="text/html"),
        "empty": Route(b""),
        "latin1": Route(LATIN1_DECLARED_UTF8.format(base=site.base).encode("latin-1"),
                        content_type="application/rss+xml; charset=utf-8"),
        "nocharset": Route("<rss version='2.0'><channel><title>Sans charset</title><item>"
                           "<title>Déjà vu à Noël</title></item></channel></rss>".encode(),
                           content_type="application/xml"),
    }
    for name, route in hostile.items():
        site.routes[f"/feeds/{name}"] = route
    feeds = [{"name": "Bon", "url": site.url("/good.xml")}] + [
        {"name": name, "url": site.url(f"/feeds/{name}")} for name in hostile]
    config = write_config(tmp_path, feeds, {"hook": f"json://{site.base.split('//')[1]}/hook"},
                          ["hook"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n",
                          network={"allow_private_addresses": True, "timeout": "5s",
                                   "max_feed_size": "2MB", "max_page_size": "5MB"})

    result, peak_mb = run_measured([sys.executable, "-m", "monitor", "once", "-v", "--config",
                                    str(config)])

    assert result.returncode == 0, result.stderr
    failed = {line.split("'")[1]: line.split("failed: ", 1)[1]
              for line in result.stderr.splitlines()
              if line.startswith("monitor: feed '") and "' failed: " in line}
    assert failed["slow"] == "no complete answer within 5s"
    assert failed["endless"] == "body is over the 2000000 byte cap"
    assert failed["bomb"] == "body is over the 2000000 byte cap"
    assert failed["loop"] == "more than 5 redirects"
    assert failed["html"].startswith("a web page, not a feed")
    assert failed["empty"] == "unreadable feed: empty document"
    assert set(failed) == {"slow", "endless", "bomb", "loop", "html", "empty"}
    # Wrong or missing charsets are survived, and decoded right.
    with connect(tmp_path / "state" / "monitor.db") as db:
        titles = {row[0] for row in db.execute("SELECT title FROM items")}
    assert {"Tempête sur la Manche", "Déjà vu à Noël"} <= titles
    # Entities are never expanded: the billion laughs stay one word.
    assert "&lol9;" in titles and max(len(title) for title in titles) < 200
    # The good feed's alert arrived; its 20 MB page was refused and the summary used.
    (post,) = site.got("POST", "/hook")
    assert json.loads(post.body)["title"] == "Missiles Tomahawk : feu vert américain"
    with connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT source FROM items WHERE title = ?",
                          ("Missiles Tomahawk : feu vert américain",)).fetchall() == [("feed",)]
    # refused for the size it announced, not read
    assert re.search(r"page unavailable \(body of 203\d{5} bytes is over the 5000000 byte cap\)",
                     result.stderr)
    assert peak_mb < 400, f"peak RSS {peak_mb:.0f} MB"


@pytest.mark.parametrize(("date", "zone"), [("Fri, 31 Dec 9999 23:59:59 GMT", "Europe/Paris"),
                                            ("Mon, 01 Jan 0001 00:00:00 GMT", "America/New_York")])
def test_a_date_at_the_end_of_the_calendar_still_alerts(tmp_path, site: Site, date: str,
                                                        zone: str) -> None:
    """Once an OverflowError in the alert's time: the item was retried for ever, never alerted."""
    site.routes["/feed.xml"] = Route(
        f"<rss version='2.0'><channel><title>Bout du temps</title><item><title>Tomahawk hors du "
        f"temps</title><link>{site.base}/a</link><pubDate>{date}</pubDate></item></channel>"
        "</rss>".encode(), content_type="application/rss+xml")
    config = write_config(tmp_path, [{"name": "Bout", "url": site.url("/feed.xml")}],
                          {"hook": f"json://{site.base.split('//')[1]}/hook"}, ["hook"],
                          "rules:\n  - {name: tomahawk, any: [tomahawk]}\n",
                          notify={"channels": {"hook": f"json://{site.base.split('//')[1]}/hook"},
                                  "default": ["hook"], "timezone": zone})
    result = subprocess.run([sys.executable, "-m", "monitor", "once", "-v", "--config",
                             str(config)], cwd=PROJECT, env=environment(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "monitor: feed 'Bout' is malformed: item 'Tomahawk hors du temps': date " \
        in result.stderr and "taken as unknown" in result.stderr
    (post,) = site.got("POST", "/hook")
    assert json.loads(post.body)["title"] == "Tomahawk hors du temps"
    with connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT state, published FROM items").fetchall() == [("done", None)]


def _healthz_from(port: int, address: str) -> int:
    """The console's /healthz, asked from another loopback address than the flood's."""
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(address, 0)) as probe:
        probe.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Connection: close\r\n\r\n".encode())
        return int(probe.recv(100).split()[1])


def test_a_crowd_of_half_sent_requests_leaves_the_daemon_its_sockets(tmp_path,
                                                                     site: Site) -> None:
    """1,100 idle half-sent requests under the usual 1,024 open files once gave EMFILE: feed
    polls failed, /healthz was unreachable, 250 MB of log in a minute."""
    site.routes["/feed.xml"] = Route(b"<rss version='2.0'><channel><title>T</title><item>"
                                     b"<title>Un</title><link>http://x.fr/1</link></item>"
                                     b"</channel></rss>", content_type="application/rss+xml")
    port = free_port()
    config = write_config(tmp_path, [{"name": "F", "url": site.url("/feed.xml"),
                                      "interval": "1s"}], {}, ["console"], "rules: []\n",
                          http={"listen": f"127.0.0.1:{port}"}, poll={"tick": "1s"})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=PROJECT,
        env=environment(), stdout=subprocess.DEVNULL, stderr=log,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)))
    crowd: list[socket.socket] = []
    try:
        wait_for(lambda: _healthz_or_none(port) == 200)
        for _ in range(1100):  # half a request each, never finished
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /flux HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            crowd.append(sock)
        polls = len(site.got("GET", "/feed.xml"))
        assert _healthz_from(port, "127.0.0.2") == 200  # another client is heard
        wait_for(lambda: len(site.got("GET", "/feed.xml")) >= polls + 2)  # and feeds polled
        # Past the header deadline the server closes the few it admitted.
        wait_for(lambda: all(closed_by_peer(sock) for sock in crowd), timeout=30)
        assert daemon.poll() is None
    finally:
        for sock in crowd:
            sock.close()
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
    lines = (tmp_path / "daemon.log").read_text().splitlines()
    assert "EMFILE" not in "\n".join(lines) and "Too many open files" not in "\n".join(lines)
    refused = [line for line in lines if "console: a connection from 127.0.0.1 refused" in line]
    assert 1 <= len(refused) <= 10  # a line a connection would be a thousand
    assert any("more like it left out" in line for line in lines) or len(refused) == 10


def _healthz_or_none(port: int) -> int | None:
    try:
        return _healthz_from(port, "127.0.0.1")
    except OSError:
        return None
