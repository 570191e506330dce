"""The console over real HTTP on 127.0.0.1 (aiohttp's test server), against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar, TCPConnector
from aiohttp.test_utils import TestClient, TestServer

from monitor.core import matching
from monitor.web import auth
from monitor.web.console import Console
from monitor.web.server import build
from tests.web_fixtures import HOSTILE, NOW, SECRET, Newsroom, newsroom

PAGES = ["/flux", "/flux/1", "/flux/2", "/sujets", "/sujets/1", "/alertes", "/regles", "/testeur"]


def console(room: Newsroom) -> Console:
    return Console(config=lambda: room.config, rules=lambda: room.rules, store=room.store,
                   clock=lambda: NOW)


def serve(room: Newsroom, test: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(build(console(room)))) as client:
            await test(client)
    asyncio.run(main())


async def csrf_of(client: TestClient, page: str = "/alertes") -> str:
    html = await (await client.get(page)).text()
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


@pytest.fixture
def room(tmp_path: Path) -> Newsroom:
    return newsroom(tmp_path)


def test_every_page_and_its_json_twin_answer_without_a_secret(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        for page in PAGES:
            response = await client.get(page)
            body = await response.text()
            assert response.status == 200, page
            assert response.headers["Content-Type"].startswith("text/html")
            assert "Server-Timing" in response.headers
            assert "script-src" not in response.headers["Content-Security-Policy"]  # none at all
            assert SECRET not in body, page
            if page != "/testeur":
                api = await client.get(f"/api{page}")
                assert api.status == 200, page
                assert SECRET not in await api.text(), page
        feeds = await (await client.get("/api/flux")).json()
        assert [(f["name"], f["status"]) for f in feeds["feeds"]] == [
            ("La Gazette", "FAILING"), ("Le Quotidien", "ok")]  # worst first
        assert feeds["feeds"][1]["not_modified_ratio"] == 0.5
        assert feeds["feeds"][0]["problem"] == "HTTP 503 from json://bot:****@x"
        assert (await client.get("/sujets/999")).status == 404
        assert (await client.get("/api/flux/999")).status == 404
    serve(room, test)


def test_a_feed_leads_to_its_items_and_their_story(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        feed = await (await client.get("/api/flux/1")).json()
        titles = [item["title"] for item in feed["items"]]
        assert "Missiles pour l'Ukraine" in titles
        item = next(i for i in feed["items"] if i["title"] == "Missiles pour l'Ukraine")
        assert item["rules"] == ["ukraine"] and item["story"]["id"] == room.story
        story = await (await client.get(f"/api/sujets/{room.story}")).json()
        assert sorted(story["story"]["outlets"]) == ["La Gazette", "Le Quotidien"]
        assert [a["joined_by"] for a in story["articles"]] == ["new", "similar-words"]
        assert story["articles"][1]["evidence"] == "missiles, Kiev"  # as written, not stems
        assert [a["state"] for a in story["alerts"]] == ["sent"]
        page = await (await client.get(f"/sujets/{room.story}")).text()
        assert "nouveau sujet" in page and "mots en commun : missiles, Kiev" in page  # in French
        assert "similar-words" not in page
    serve(room, test)


def test_the_console_speaks_french_and_offers_only_what_answers(room: Newsroom) -> None:
    """Counts and reasons in French; each channel a rule reaches, priority ones included;
    the footer names a JSON twin only where there is one."""
    async def test(client: TestClient) -> None:
        alerts = await (await client.get("/alertes")).text()
        assert "1 abandonnée" in alerts and "1 envoyée" in alerts and " dead" not in alerts
        rules = await (await client.get("/api/regles")).json()
        channels = {rule["name"]: rule["channels"] for rule in rules["rules"]}
        assert channels == {"ukraine": ["team"], "tempete": ["team", "astreinte"]}
        for page, twin in (("/flux", "/api/flux"), ("/testeur", "POST /api/testeur")):
            assert twin in (await (await client.get(page)).text())
        assert "/api" not in (await (await client.get("/login")).text()).split("<footer>")[1]
        assert (await client.get("/api/alertes?etat=retenue")).status == 400
        assert "Flux" in (page := await (await client.get("/flux/2")).text()) and "en échec" in page
        held = await (await client.get("/api/alertes?etat=dead")).json()
        assert [alert["state"] for alert in held["alerts"]] == ["dead"]
    serve(room, test)


def test_stories_filter_by_rule_outlet_and_folded_words(room: Newsroom) -> None:
    async def titles(client: TestClient, query: str) -> list[str]:
        found = await (await client.get(f"/api/sujets?{query}")).json()
        return [story["title"] for story in found["stories"]]

    async def test(client: TestClient) -> None:
        assert len(await titles(client, "")) == 2
        assert await titles(client, "regle=tempete") == [HOSTILE]
        assert await titles(client, "q=TEMPETE+brest") == [HOSTILE]  # case and accents folded
        assert await titles(client, "q=ukraine") == ["Missiles pour l'Ukraine"]  # « l'Ukraine »
        assert await titles(client, "source=La+Gazette") == ["Missiles pour l'Ukraine"]
        assert await titles(client, "q=absent") == []
        assert len(await titles(client, "periode=3j")) == 2  # any period, not only the offered
        refused = await client.get("/api/sujets?periode=2x")
        assert refused.status == 400
        assert (await refused.json()) == {
            "error": "periode: '2x' is not a duration such as 30s, 10m, 2h, 3d"}
    serve(room, test)


def test_stories_sort_by_size_and_spread_and_draw_their_timeline(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        for order in ("taille", "etendue"):
            found = await (await client.get(f"/api/sujets?tri={order}")).json()
            assert [s["id"] for s in found["stories"]] == [room.story, room.hostile_story]
        assert (await client.get("/api/sujets?tri=hasard")).status == 400
        listing = await (await client.get("/sujets?tri=taille&periode=24h")).text()
        assert listing.count('<td class="spark">') == 2  # (drawn when its articles span time)
        assert 'id="top-stories"' in listing  # « À la une »
        page = await client.get(f"/sujets/{room.story}")
        timeline = re.search(r'<figure id="timeline">(.*?)</figure>', await page.text(), re.S)
        assert timeline and timeline.group(1).count("<circle") == 2
        assert ">Le Quotidien<" in timeline.group(1) and ">La Gazette<" in timeline.group(1)
        assert "script-src" not in page.headers["Content-Security-Policy"]  # still none
    serve(room, test)


def test_a_hostile_title_is_text_not_markup(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        for page in ["/flux/1", f"/sujets/{room.hostile_story}", "/alertes", "/sujets"]:
            body = await (await client.get(page)).text()
            assert "<script>document.title" not in body, page
            assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in body, page
    serve(room, test)


def test_retrying_a_dead_alert_needs_the_csrf_token(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        url = f"/alertes/{room.dead_alert}/relancer"
        refused = await client.post(url, data={"csrf": "forged"})
        assert refused.status == 403
        assert room.store.outbox.statuses([room.dead_alert]) == {room.dead_alert: "dead"}
        cross = await client.post(url, data={"csrf": await csrf_of(client)},
                                  headers={"Origin": "https://evil.example"})
        assert cross.status == 403
        done = await client.post(url, data={"csrf": await csrf_of(client)}, allow_redirects=False)
        assert done.status == 303 and done.headers["Location"] == \
            f"/alertes?relancee={room.dead_alert}"
        assert room.store.outbox.statuses([room.dead_alert]) == {room.dead_alert: "pending"}
        again = await (await client.post(f"/api/alertes/{room.sent_alert}/relancer",
                                         json={})).json()
        assert again == {"id": room.sent_alert, "requeued": False, "was": "sent"}
    serve(room, test)


def test_muting_a_story_from_its_page_and_the_api(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        url = f"/sujets/{room.story}/sourdine"
        page = await (await client.get(f"/sujets/{room.story}")).text()
        assert "Mettre en sourdine" in page and 'id="muted"' not in page
        assert (await client.post(url, data={"csrf": "forged"})).status == 403
        assert room.store.items.muted_stories([room.story]) == frozenset()
        done = await client.post(url, data={"csrf": await csrf_of(client, f"/sujets/{room.story}")},
                                 allow_redirects=False)
        assert done.status == 303 and done.headers["Location"] == f"/sujets/{room.story}?sourdine=1"
        assert room.store.items.muted_stories([room.story]) == {room.story}
        page = await (await client.get(done.headers["Location"])).text()
        assert 'id="muted"' in page and "Rétablir les alertes" in page and 'id="notice"' in page
        listed = await (await client.get("/api/sujets")).json()
        assert [s["muted"] for s in listed["stories"] if s["id"] == room.story] == [True]
        unmuted = await (await client.post(f"/api{url}", json={"muted": False})).json()
        assert unmuted == {"id": room.story, "muted": False, "alerts_muted": 0}
        assert room.store.items.muted_stories([room.story]) == frozenset()
        assert (await client.post(f"/api{url}", json={"muted": "yes"})).status == 400
        assert (await client.post("/api/sujets/999/sourdine", json={})).status == 404
    serve(room, test)


def test_a_rule_s_stories_as_rss_and_json_feed_that_feedparser_reads(room: Newsroom) -> None:
    import feedparser

    async def test(client: TestClient) -> None:
        rules = await (await client.get("/api/regles")).json()
        paths = next(rule["feeds"] for rule in rules["rules"] if rule["name"] == "ukraine")
        assert paths == {"rss": "/flux/regles/ukraine.xml", "json": "/flux/regles/ukraine.json"}
        assert 'href="/flux/regles/ukraine.xml"' in await (await client.get("/regles")).text()
        answer = await client.get(paths["rss"])
        assert answer.content_type == "application/rss+xml"
        parsed = feedparser.parse(await answer.read())
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.feed.title == "monitor : ukraine"
        (entry,) = parsed.entries  # the Ukraine story, told by both outlets: one entry
        assert entry.id.endswith(f"/sujets/{room.story}")
        assert "2 source(s) : Le Quotidien, La Gazette" in entry.summary
        assert entry.link.startswith("https://")  # its first article, not the console
        data = json.loads(await (await client.get(paths["json"])).text())
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert [item["tags"] for item in data["items"]] == [["Le Quotidien", "La Gazette"]]
        hostile = feedparser.parse(await (await client.get("/flux/regles/tempete.xml")).read())
        assert not hostile.bozo and HOSTILE in hostile.entries[0].title  # escaped, intact
        assert (await client.get("/flux/regles/nope.xml")).status == 404
    serve(room, test)


def test_without_a_login_only_loopback_host_names_are_answered(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        rebound = await client.get("/flux", headers={"Host": "attacker.example:9321"})
        assert rebound.status == 403
        assert (await client.get("/flux", headers={"Host": "localhost:9321"})).status == 200
    serve(room, test)


def with_login(tmp_path: Path) -> Newsroom:
    return newsroom(tmp_path, auth={"password_hash": auth.hash_password("correct horse"),
                                    "token": "t" * 24})


def test_with_a_login_pages_want_a_session_or_the_token(tmp_path: Path) -> None:
    room = with_login(tmp_path)

    async def test(client: TestClient) -> None:
        page = await client.get("/alertes", allow_redirects=False)
        assert page.status == 303 and page.headers["Location"] == "/login?next=%2Falertes"
        assert (await client.get("/api/flux")).status == 401
        assert (await client.get("/healthz")).status == 200  # probes stay open
        bearer = await client.get("/api/flux", headers={"Authorization": "Bearer " + "t" * 24})
        assert bearer.status == 200
        assert "Se déconnecter" not in await (await client.get("/login")).text()  # logged out
        # A guesser at another address is slowed, alone: the right password still gets in.
        async with ClientSession(connector=TCPConnector(local_addr=("127.0.0.2", 0)),
                                 cookie_jar=CookieJar(unsafe=True)) as guesser:  # an IP host
            login = str(client.make_url("/login"))
            html = await (await guesser.get(login)).text()
            found = re.search(r'name="csrf" value="([^"]+)"', html)
            assert found
            guess = {"csrf": found.group(1), "secret": "guess", "next": "/alertes"}
            assert (await guesser.post(login, data=guess)).status == 401
            again = await guesser.post(login, data={**guess, "secret": "correct horse"})
            assert again.status == 429 and again.headers["Retry-After"] == "1"
            assert "réessayez dans 1 s" in await again.text()
        token = await csrf_of(client, "/login")
        right = await client.post("/login", data={"csrf": token, "secret": "correct horse",
                                                  "next": "/alertes"}, allow_redirects=False)
        assert right.status == 303 and right.headers["Location"] == "/alertes"
        cookie = right.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert (await client.get("/api/flux")).status == 200
        assert "Se déconnecter" in await (await client.get("/flux")).text()
        for target in ("//evil.example", "/\\evil.example", "https://evil.example/x",
                       "/\\/evil.example", "/ok\x00"):
            elsewhere = await client.post("/login", data={"csrf": token, "secret": "t" * 24,
                                                          "next": target}, allow_redirects=False)
            assert elsewhere.headers["Location"] == "/flux", target  # never off-site
        inside = await client.post("/login", data={"csrf": token, "secret": "t" * 24,
                                                    "next": "/sujets?q=kiev"}, allow_redirects=False)
        assert inside.headers["Location"] == "/sujets?q=kiev"
    serve(room, test)


def test_a_rule_s_feed_opens_with_its_own_token_only(tmp_path: Path) -> None:
    room = with_login(tmp_path)
    assert room.config.http and room.config.http.auth
    own = auth.feed_token(room.config.http.auth, "ukraine")

    async def test(client: TestClient) -> None:
        assert (await client.get("/flux/regles/ukraine.xml")).status == 401
        assert (await client.get(f"/flux/regles/ukraine.xml?jeton={own}")).status == 200
        assert (await client.get(f"/flux/regles/ukraine.json?jeton={own}")).status == 200
        assert (await client.get(f"/flux/regles/tempete.xml?jeton={own}")).status == 401
        assert (await client.get(f"/api/flux?jeton={own}")).status == 401  # that feed only
        assert (await client.get("/flux/regles/ukraine.xml?jeton=" + "0" * 32)).status == 401
        bearer = await client.get("/api/regles", headers={"Authorization": "Bearer " + "t" * 24})
        paths = next(r["feeds"] for r in (await bearer.json())["rules"] if r["name"] == "ukraine")
        assert paths["rss"] == f"/flux/regles/ukraine.xml?jeton={own}"
    serve(room, test)


async def try_rules(client: TestClient, **payload: Any) -> tuple[int, dict[str, Any]]:
    response: ClientResponse = await client.post("/api/testeur", json=payload)
    return response.status, await response.json()


def test_the_tester_marks_each_term_in_place(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        status, result = await try_rules(client, text="Des missiles pour l’Ukraine, dit Kiev.",
                                      rules=["ukraine", "tempete"])
        assert status == 200
        assert [m["rule"] for m in result["matches"]] == ["ukraine"]
        assert result["matches"][0]["hits"][0]["found"] == "Ukraine"
        (text,) = result["fields"]
        assert [part["text"] for part in text["segments"] if part["terms"]] == ["Ukraine"]
        page = await (await client.post("/testeur", data={
            "csrf": await csrf_of(client, "/testeur"), "text": "Tempête sur <b>Brest</b>",
            "rules": "tempete"})).text()
        assert '<mark title="tempête">Tempête</mark> sur &lt;b&gt;Brest&lt;/b&gt;' in page
    serve(room, test)


def test_an_alias_bomb_in_the_tester_is_refused_in_one_line(room: Newsroom) -> None:
    """Once the daemon's /healthz stalled for a minute, then the kernel killed it (23 GB)."""
    from tests.hostile import billion_laughs

    async def test(client: TestClient) -> None:
        status, body = await try_rules(client, text="Kiev", yaml=billion_laughs())
        assert status == 400
        assert "too many aliases" in body["errors"][0]
        status, body = await try_rules(client, text="Kiev", yaml="#" * (300 * 1024))
        assert (status, body["errors"]) == (400, [
            "règle du testeur: too large: at most 256 KB of rules in the page"])
        assert (await client.get("/healthz")).status == 200
    serve(room, test)


def test_a_rule_written_in_the_page_is_checked_like_a_file(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        status, result = await try_rules(client, text="Sommet à Budapest",
                                      yaml="rules:\n  - name: essai\n    any: [Budapest]\n")
        assert status == 200 and [m["rule"] for m in result["matches"]] == ["essai"]
        assert result["matches"][0]["origin"] == "règle du testeur:2"
        status, result = await try_rules(client, text="x",
                                      yaml="rules:\n  - name: essai\n    any: [{regex: '(a'}]\n")
        assert status == 400
        assert result["errors"] == ["règle du testeur:3: rules[0].any[0].regex: invalid regular "
                                    "expression: missing ) at position 2"]
    serve(room, test)


def test_a_catastrophic_regex_in_the_tester_gives_up_in_time(
        room: Newsroom, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "REGEX_TIME_LIMIT", 0.3)

    async def test(client: TestClient) -> None:
        status, result = await try_rules(client, text="a" * 100_000 + "!",
                                      yaml="rules:\n  - name: piege\n    any: [{regex: '(a+)+$'}]\n")
        assert status == 200 and result["matches"] == []
        assert result["timeouts"] == ["/(a+)+$/ (text)"]  # stopped, not the hours it would take
        assert (await client.get("/healthz")).status == 200  # and the server still answers
    serve(room, test)


def test_a_page_url_in_the_tester_goes_through_the_address_guard(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        status, result = await try_rules(client, url="http://127.0.0.1:9/page", rules=["ukraine"])
        assert status == 400
        assert "private" in result["errors"][0] or "loopback" in result["errors"][0]
    serve(room, test)


def test_the_backtest_runs_in_the_background_and_lists_the_stories(room: Newsroom) -> None:
    async def test(client: TestClient) -> None:
        started = await client.post("/api/historique", json={"rules": ["ukraine"],
                                                             "since": "3650d"})
        assert started.status == 202
        job = (await started.json())["id"]
        for _ in range(200):
            status = await (await client.get(f"/api/historique/{job}")).json()
            if status["finished"]:
                break
            await asyncio.sleep(0.05)
        assert status["error"] is None and status["articles"] == 3
        assert [s["id"] for s in status["stories"]] == [room.story]
        assert status["per_rule"] == [{"rule": "ukraine", "articles": 2, "stories": 1}]
        page = await (await client.get(f"/historique/{job}")).text()
        assert "Missiles pour l&#39;Ukraine" in page
    serve(room, test)
