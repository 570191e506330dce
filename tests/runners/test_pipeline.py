"""The pipeline's stages with real parts (HTTP server, SQLite file, Apprise) and an injected clock:
retries, dead letters, restarts between stages, failing feeds, unchanged feeds."""

from __future__ import annotations

import asyncio
import json
from email.utils import formatdate
from pathlib import Path

import pytest

from monitor.config.config import FeedConfig
from monitor.core import analysis
from monitor.runners import app
from tests.db import connect, fail_inserts, fail_updates, heal_updates
from tests.e2e.helpers import write_config
from tests.servers import FIXTURES, Mailbox, Route, Site, free_port

RULES = "rules:\n  - name: tomahawk\n    any: [tomahawk]\n"
FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Le Monde</title>
<item><title>Missiles Tomahawk : feu vert de Washington</title><link>{base}/a1</link>
<description>Washington autorise la livraison.</description></item>
<item><title>Budget : le Sénat vote</title><link>{base}/a2</link>
<description>Le texte part en commission.</description></item>
</channel></rss>"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def setup(tmp_path: Path, site: Site, hook_port: int, feeds: list[dict] | None = None,
          hooks: tuple[str, ...] = ("ops",)):
    """Le Monde's feed, and a json:// channel per hook (`ops` posts to /hook, others to
    /NAME), all of them the default."""
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
    feeds = feeds or [{"name": "Le Monde", "url": site.url("/feed.xml")}]
    channels = {name: f"json://127.0.0.1:{hook_port}/{'hook' if name == 'ops' else name}"
                for name in hooks}
    path = write_config(tmp_path, feeds, channels, list(hooks), RULES, workers=0)
    return app.load(path)


async def one_pass(config, rules, clock: Clock, feeds=None):
    async with app.open_pipeline(config, rules, clock=clock) as pipeline:
        return await pipeline.run_pass(pipeline.enabled_feeds() if feeds is None else feeds)


def alert_rows(config) -> list[tuple]:
    with connect(config.database) as db:
        return db.execute("SELECT status, attempts, last_error IS NOT NULL FROM alerts").fetchall()


def test_a_dead_channel_is_retried_with_backoff_until_it_answers(tmp_path, site: Site) -> None:
    port = free_port()
    config, rules = setup(tmp_path, site, port)
    clock = Clock()

    report = asyncio.run(one_pass(config, rules, clock))
    assert (report.queued, report.sent, report.failed) == (1, 0, 1)
    assert alert_rows(config) == [("pending", 1, 1)]

    clock.now += 4  # before the first retry (5–10 s): nothing is due
    assert asyncio.run(one_pass(config, rules, clock, feeds=[])).failed == 0

    with Site(port=port) as catcher:
        clock.now += 10
        report = asyncio.run(one_pass(config, rules, clock, feeds=[]))
        assert (report.sent, report.failed) == (1, 0)
        (post,) = catcher.got("POST", "/hook")
        assert json.loads(post.body)["title"] == "Missiles Tomahawk : feu vert de Washington"
        clock.now += 3600
        assert asyncio.run(one_pass(config, rules, clock, feeds=[])).sent == 0  # never twice
    assert alert_rows(config) == [("sent", 2, 0)]


def test_an_alert_undelivered_for_a_day_is_dead_lettered(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, free_port())
    clock = Clock()
    asyncio.run(one_pass(config, rules, clock))
    clock.now += 24 * 3600 + 1
    asyncio.run(one_pass(config, rules, clock, feeds=[]))
    assert alert_rows(config) == [("dead", 1, 1)]  # past its age: not tried again, not sent


def test_items_stored_before_a_crash_are_completed_after_restart(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    clock = Clock()

    async def poll_then_die():
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())  # the process "dies" here

    asyncio.run(poll_then_die())
    assert site.got("POST", "/hook") == []
    report = asyncio.run(one_pass(config, rules, clock, feeds=[]))
    assert (report.processed, report.sent) == (2, 1)
    assert len(site.got("POST", "/hook")) == 1


def test_a_failing_feed_backs_off_and_does_not_stop_the_others(tmp_path, site: Site) -> None:
    site.routes["/broken.xml"] = Route(b"<html><body>Maintenance</body></html>",
                                       content_type="text/html")
    feeds = [{"name": "Cassé", "url": site.url("/broken.xml"), "interval": "10m"},
             {"name": "Le Monde", "url": site.url("/feed.xml"), "interval": "1d"}]
    config, rules = setup(tmp_path, site, site_port(site), feeds)
    clock = Clock()
    report = asyncio.run(one_pass(config, rules, clock))
    assert [(p.feed, p.status) for p in report.polls] == [("Cassé", "failed"), ("Le Monde", "new")]
    assert report.sent == 1

    def next_check() -> float:
        with connect(config.database) as db:
            return db.execute("SELECT next_check FROM feeds WHERE name = 'Cassé'").fetchone()[0]

    async def poll_due() -> list[str]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            due = pipeline.due_feeds()
            await pipeline.poll_all(due)
            return [feed.name for feed in due]

    gaps = [next_check() - clock.now]
    for _ in range(3):
        clock.now = next_check() - 1
        assert asyncio.run(poll_due()) == []  # not due a second early
        clock.now += 1
        assert asyncio.run(poll_due()) == ["Cassé"]
        gaps.append(next_check() - clock.now)
    # 10 min after one failure, then 20, 40, 80 (±10% jitter): backing off, never giving up.
    for gap, minutes in zip(gaps, (10, 20, 40, 80), strict=True):
        assert 0.9 * minutes * 60 <= gap <= 1.1 * minutes * 60, gaps
    with connect(config.database) as db:
        failures, error = db.execute("SELECT failures, last_error FROM feeds WHERE name = 'Cassé'"
                                     ).fetchone()
    assert failures == 4 and error.startswith("a web page, not a feed")


def test_an_unchanged_body_is_not_parsed_again(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    clock = Clock()
    asyncio.run(one_pass(config, rules, clock))
    report = asyncio.run(one_pass(config, rules, clock))
    assert [p.status for p in report.polls] == ["unchanged"]


def site_port(site: Site) -> int:
    return int(site.base.rsplit(":", 1)[1])


@pytest.fixture(autouse=True)
def _quiet_console(capsys):
    yield


def test_a_service_failing_twice_gets_the_alert_on_the_third_try(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    site.fail_posts = 2
    clock = Clock()
    for _ in range(3):
        asyncio.run(one_pass(config, rules, clock))
        clock.now += 700  # past any retry delay (at most 10 min)
    assert len(site.got("POST", "/hook")) == 3
    assert alert_rows(config) == [("sent", 3, 0)]


def test_a_digest_channel_sends_one_message_at_its_time(tmp_path, site: Site) -> None:
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
    path = write_config(
        tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}],
        {"daily": {"urls": [f"json://127.0.0.1:{site_port(site)}/hook"], "digest": {"at": "08:00"}}},
        ["daily"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n  - {name: budget, any: [budget]}\n",
        workers=0)
    config, rules = app.load(path)
    clock = Clock()
    clock.now = 1_764_000_000.0  # 2025-11-24 17:00 in Paris
    report = asyncio.run(one_pass(config, rules, clock))
    assert (report.queued, report.sent) == (2, 0) and site.got("POST") == []
    clock.now = 1_764_054_000.0  # 2025-11-25 08:00 in Paris: digest time
    assert asyncio.run(one_pass(config, rules, clock, feeds=[])).sent == 2
    (post,) = site.got("POST", "/hook")
    message = json.loads(post.body)
    assert message["title"] == "monitor : 2 alertes"
    assert "tomahawk" in message["message"] and "Budget : le Sénat vote" in message["message"]


def test_a_briefing_tells_the_digest_story_by_story(tmp_path, site: Site,
                                                     mailbox: Mailbox) -> None:
    """Two outlets tell the Tomahawk story, one the budget: the 8:00 digest on chat (json://)
    and e-mail (a real SMTP server) has one section per story, with its outlets and rules."""
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
    site.routes["/other.xml"] = Route(FEED.format(base=site.base).replace(
        "Le Monde", "RFI").replace("/a1", "/r1").replace("/a2", "/r2").replace(
        "<item><title>Budget", "<!--").replace("commission.</description></item>", "-->").encode())
    briefing = {"at": "08:00", "briefing": True}
    path = write_config(
        tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")},
                   {"name": "RFI", "url": site.url("/other.xml")}],
        {"chat": {"urls": [f"json://127.0.0.1:{site_port(site)}/hook"], "digest": briefing},
         "mail": {"urls": [mailbox.url()], "digest": briefing}},
        ["chat", "mail"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n"
        "  - {name: budget, any: [budget]}\n", workers=0)
    config, rules = app.load(path)
    clock = Clock()
    clock.now = 1_764_000_000.0  # 2025-11-24 17:00 in Paris
    asyncio.run(one_pass(config, rules, clock))
    clock.now = 1_764_054_000.0  # 2025-11-25 08:00 in Paris: digest time
    asyncio.run(one_pass(config, rules, clock, feeds=[]))
    (post,) = site.got("POST", "/hook")
    message = json.loads(post.body)
    assert message["title"] == "monitor : 2 sujets"
    text = message["message"]
    assert text.count("\n== ") + text.startswith("== ") == 2  # a section per story
    assert "2 source(s) : Le Monde, RFI" in text or "2 source(s) : RFI, Le Monde" in text
    assert "Règles : budget" in text and "Règles : tomahawk" in text
    (mail,) = mailbox.messages
    assert mail["Subject"] == "monitor : 2 sujets"
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert html.count("<h3>") == 2 and "1 article(s), 1 source(s)" in html


def test_each_pass_adds_its_polls_and_failures_to_the_feeds_days(tmp_path, site: Site) -> None:
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
    site.routes["/broken.xml"] = Route(b"gone", status=500)
    path = write_config(
        tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")},
                   {"name": "Cassé", "url": site.url("/broken.xml")}],
        {"hook": f"json://127.0.0.1:{site_port(site)}/hook"}, ["hook"],
        "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0)
    config, rules = app.load(path)
    clock = Clock()
    asyncio.run(one_pass(config, rules, clock))
    asyncio.run(one_pass(config, rules, clock))
    day = int(clock.now // 86400)
    with connect(config.database) as db:
        rows = sorted(db.execute("SELECT feed_url, day, polls, failures FROM feed_days"))
    assert rows == [(site.url("/broken.xml"), day, 2, 2), (site.url("/feed.xml"), day, 2, 0)]


def next_check_of(config, name: str) -> float:
    with connect(config.database) as db:
        return db.execute("SELECT next_check FROM feeds WHERE name = ?", (name,)).fetchone()[0]


def test_retry_after_on_429_is_honoured(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    site.routes["/feed.xml"] = Route(b"slow down", status=429, headers={"Retry-After": "7200"})
    clock = Clock()
    (poll,) = asyncio.run(one_pass(config, rules, clock)).polls
    assert (poll.status, poll.error) == ("failed", "HTTP 429")
    assert next_check_of(config, "Le Monde") >= clock.now + 7200  # not the 10 min backoff


def test_cache_control_max_age_delays_the_next_poll(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    site.routes["/feed.xml"].headers["Cache-Control"] = "public, max-age=3600"
    clock = Clock()
    asyncio.run(one_pass(config, rules, clock))
    assert next_check_of(config, "Le Monde") >= clock.now + 3600


def test_a_permanent_redirect_moves_the_feed(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    site.routes["/new-feed.xml"] = site.routes.pop("/feed.xml")
    site.routes["/feed.xml"] = Route(status=301, headers={"Location": "/new-feed.xml"})
    clock = Clock()
    assert asyncio.run(one_pass(config, rules, clock)).processed == 2
    clock.now += 3600
    before = len(site.requests)
    (poll,) = asyncio.run(one_pass(config, rules, clock)).polls
    assert poll.status == "unchanged"
    assert [r.path for r in site.requests[before:]] == ["/new-feed.xml"]  # straight there


def test_a_silent_feed_alerts_ops_once_then_once_when_it_recovers(tmp_path, site: Site) -> None:
    port = site_port(site)
    path = write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml"),
                                    "stale_after": "6h"}],
                        {"ops": f"json://127.0.0.1:{port}/ops"}, ["console"], RULES, workers=0)
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode(), etag='"v1"')
    config, rules = app.load(path)
    clock = Clock()

    async def pass_and_check() -> None:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            await pipeline.process_pending()
            pipeline.check_stale()
            await pipeline.deliver_due()

    asyncio.run(pass_and_check())
    for _ in range(3):  # 304s for 9 hours: silent after 6
        clock.now += 3 * 3600
        asyncio.run(pass_and_check())
    titles = [json.loads(r.body)["title"] for r in site.got("POST", "/ops")]
    assert titles == ["Flux silencieux : Le Monde"]
    (post,) = site.got("POST", "/ops")
    assert "Aucun nouvel article depuis 9 h" in json.loads(post.body)["message"]

    site.routes["/feed.xml"] = Route(FEED.replace("/a2", "/a3").format(base=site.base).encode(),
                                     etag='"v2"')
    clock.now += 3600
    asyncio.run(pass_and_check())
    clock.now += 3600
    asyncio.run(pass_and_check())
    titles = [json.loads(r.body)["title"] for r in site.got("POST", "/ops")]
    assert titles == ["Flux silencieux : Le Monde", "Flux rétabli : Le Monde"]


def test_a_slow_page_delays_only_its_own_article(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, site_port(site))
    site.routes["/a1"] = Route(b"<html><body><p>" + b"Tomahawk. " * 100 + b"</p></body></html>",
                               content_type="text/html", trickle=4.0)  # the Tomahawk page: slow
    clock = Clock()

    def states() -> dict[str, str]:
        with connect(config.database) as db:
            return dict(db.execute("SELECT link, state FROM items").fetchall())

    async def scenario() -> dict[str, str]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            work = asyncio.create_task(pipeline.process_pending())
            for _ in range(300):  # the fast article is committed while the slow one loads
                seen = states()
                if seen[site.url("/a2")] == "done":
                    break
                await asyncio.sleep(0.01)
            await work
            return seen

    seen = asyncio.run(scenario())
    assert seen == {site.url("/a2"): "done", site.url("/a1"): "new"}
    assert set(states().values()) == {"done"}  # and the slow one is completed after


def test_feeds_are_taken_host_by_host_in_turn() -> None:
    from monitor.runners.polling import _interleave_hosts

    urls = ["https://a.fr/1", "https://a.fr/2", "https://a.fr/3", "https://b.fr/1", "https://c.fr/1"]
    feeds = [FeedConfig(name=url, url=url) for url in urls]
    order = [feed.url for feed in _interleave_hosts(feeds, lambda feed: feed)]
    assert order == ["https://a.fr/1", "https://b.fr/1", "https://c.fr/1", "https://a.fr/2",
                     "https://a.fr/3"]


DEVELOPING = [  # (hours after the first, title): one story told over three days
    (0, "Missiles Tomahawk : Washington autorise leur livraison à Kiev"),
    (6, "Missiles Tomahawk pour Kiev : Moscou dénonce la décision de Washington"),
    (12, "Missiles Tomahawk : Kiev salue la livraison autorisée par Washington"),
    (19, "Livraison de missiles Tomahawk à Kiev : le Pentagone précise le calendrier"),
    (26, "Missiles Tomahawk : premiers lanceurs livrés à Kiev par Washington"),
    (33, "Tomahawk : Kiev reçoit ses premiers missiles de Washington"),
    (41, "Missiles Tomahawk livrés à Kiev : le Kremlin promet une riposte"),
    (48, "Missiles Tomahawk à Kiev : l’Otan soutient la livraison de Washington"),
    (56, "Missiles Tomahawk : Kiev forme ses artilleurs aux lanceurs de Washington"),
    (63, "Missiles Tomahawk : Washington livre un second lot à Kiev"),
    (70, "Missiles Tomahawk à Kiev : trois jours après la décision de Washington"),
]


def test_a_developing_story_alerts_once_then_follows_up_for_three_days(tmp_path, site: Site) -> None:
    config, rules = setup(tmp_path, site, free_port())
    clock = Clock()
    start = clock.now
    items = ""
    for number, (hours, title) in enumerate(DEVELOPING):
        clock.now = start + hours * 3600
        published = formatdate(clock.now, usegmt=True)
        items = (f"<item><title>{title}</title><link>{site.base}/suite-{number}</link>"
                 f"<description>{title}. Les missiles Tomahawk de Washington pour Kiev."
                 f"</description><pubDate>{published}</pubDate></item>") + items
        site.routes["/feed.xml"] = Route(
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Le Monde</title>{items}"
            "</channel></rss>".encode())
        asyncio.run(one_pass(config, rules, clock))
    with connect(config.database) as db:
        kinds = db.execute("SELECT kind, COUNT(*), COUNT(DISTINCT story_id) FROM alerts "
                           "WHERE channel = 'ops' GROUP BY kind ORDER BY kind").fetchall()
        stories = db.execute("SELECT COUNT(DISTINCT story_id) FROM items").fetchone()[0]
    assert kinds == [("alert", 1, 1), ("followup", 10, 1)]  # one headline, ten follow-ups
    assert stories == 1


def test_stories_merged_before_delivery_send_one_headline(tmp_path, site: Site) -> None:
    """Two stories found apart, then bridged by a third article before anything was sent: the
    headline of one of them, still queued, goes out as a follow-up of the other."""
    stories = [
        ("Missiles Tomahawk : Washington autorise leur livraison",
         "Le Pentagone donne son feu vert aux missiles de croisière."),
        ("Kiev : Zelensky remercie les alliés pour les lanceurs",
         "Le président ukrainien salue l’aide militaire occidentale."),
        ("Missiles Tomahawk livrés : Zelensky remercie Washington",
         "Le président ukrainien salue le feu vert du Pentagone aux missiles de croisière et "
         "aux lanceurs."),
    ]

    def serve(count: int) -> None:
        items = "".join(f"<item><title>{title}</title><link>{site.base}/m{number}</link>"
                        f"<description>{summary}</description></item>"
                        for number, (title, summary) in enumerate(stories[:count]))
        site.routes["/feed.xml"] = Route(
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Le Fil</title>{items}"
            "</channel></rss>".encode())

    hook = free_port()
    path = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                        {"ops": f"json://127.0.0.1:{hook}/hook"}, ["ops"],
                        "rules:\n  - {name: guerre, any: [Tomahawk, Zelensky]}\n", workers=0,
                        dedup={"followups": "message"})
    config, rules = app.load(path)

    async def complete_then_demote() -> list[tuple]:
        async with app.open_pipeline(config, rules, clock=Clock()) as pipeline:
            for count in (2, 3):  # the two stories first, then the article bridging them
                serve(count)
                await pipeline.poll_all(pipeline.enabled_feeds())
                await pipeline.process_pending()
            with connect(config.database) as db:
                before = db.execute("SELECT kind FROM alerts ORDER BY id").fetchall()
            pipeline.dispatch._demote_merged()
            return before

    before = asyncio.run(complete_then_demote())
    with connect(config.database) as db:
        after = db.execute("SELECT kind, title FROM alerts ORDER BY id").fetchall()
        stories_left = db.execute("SELECT COUNT(*) FROM stories WHERE merged_into IS NULL")
        assert stories_left.fetchone() == (1,)
    assert [kind for (kind,) in before] == ["alert", "alert", "followup"]  # found apart first
    assert [kind for kind, _ in after] == ["alert", "followup", "followup"]
    assert after[1][1].startswith("Aussi repris par")
    assert {after[0][1], after[1][1].split(" : ", 1)[1]} == {stories[0][0], stories[1][0]}

def test_a_live_page_on_a_story_that_alerted_is_a_follow_up(tmp_path, site: Site) -> None:
    news = ("Sommet de l’IA : Emmanuel Macron annonce 109 milliards d’euros",
            "Le chef de l’État promet des investissements avant le sommet de l’IA à Paris.")
    live = ("DIRECT. Sommet de l’IA : suivez la première journée au Grand Palais",
            "Chefs d’État et patrons réunis pour le sommet de l’IA à Paris.")
    other_live = ("DIRECT. Tempête Éowyn : suivez l’évolution de la situation",
                  "Des rafales à 150 km/h attendues en Irlande.")
    hook = free_port()
    path = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                        {"ops": f"json://127.0.0.1:{hook}/hook"}, ["ops"],
                        "rules:\n  - {name: veille, any: [sommet, tempête]}\n", workers=0)
    config, rules = app.load(path)
    clock = Clock()
    published = []
    for number, (title, summary) in enumerate([news, live, other_live]):
        published.append(f"<item><title>{title}</title><link>{site.base}/l{number}</link>"
                          f"<description>{summary}</description></item>")
        site.routes["/feed.xml"] = Route(
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Le Fil</title>"
            f"{''.join(published)}</channel></rss>".encode())
        clock.now += 600
        asyncio.run(one_pass(config, rules, clock))
    with connect(config.database) as db:
        rows = db.execute("SELECT kind, title FROM alerts ORDER BY id").fetchall()
        stories = db.execute("SELECT COUNT(*) FROM stories").fetchone()[0]
    assert [kind for kind, _ in rows] == ["alert", "followup", "alert"]
    assert "suivez la première journée" in rows[1][1] and "Éowyn" in rows[2][1]
    assert stories == 3  # the live pages stay stories of their own


def test_an_alert_that_cannot_be_rendered_fails_alone(tmp_path, site: Site) -> None:
    """A channel template that passed the load check fails on one real alert: that alert is
    dead-lettered with the reason, and the alert after it is delivered."""
    items = [("Tomahawk : Kiev reçoit les premiers missiles", "Livraison à Kiev."),
             ("Tomahawk : le Sénat américain vote le budget des missiles", "Vote à Washington.")]
    site.routes["/feed.xml"] = Route(
        ("<?xml version='1.0'?><rss version='2.0'><channel><title>Le Fil</title>" + "".join(
            f"<item><title>{title}</title><link>{site.base}/r{n}</link><description>{summary}"
            f"</description></item>" for n, (title, summary) in enumerate(items))
         + "</channel></rss>").encode())
    with Site() as catcher:
        template = "{% if 'Kiev' in title %}{{ 1 // 0 }}{% endif %}{{ title }}"
        path = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}], {},
                            ["ops"], "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0,
                            notify={"channels": {"ops": {
                                "urls": f"json://{catcher.base.split('//')[1]}/hook",
                                "template": template}}, "default": ["ops"]})
        config, rules = app.load(path)
        asyncio.run(one_pass(config, rules, Clock()))
        delivered = [json.loads(r.body)["title"] for r in catcher.got("POST", "/hook")]
    with connect(config.database) as db:
        rows = db.execute("SELECT title, status, last_error FROM alerts ORDER BY id").fetchall()
    assert delivered == [items[1][0]]
    dead = [row for row in rows if row[1] == "dead"]
    assert [row[0] for row in dead] == [items[0][0]]
    assert dead[0][2].startswith("cannot render: ZeroDivisionError")


def test_a_channel_with_one_url_down_retries_that_url_only(tmp_path, site: Site) -> None:
    """Two URLs on one channel, the second down: the first gets the alert once, however many
    retries the second needs; when the second comes back, it gets it too, once."""
    down = free_port()
    with Site() as working:
        path = write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}], {},
                            ["ops"], RULES, workers=0, notify={"channels": {"ops": {"urls": [
                                f"json://{working.base.split('//')[1]}/hook",
                                f"json://127.0.0.1:{down}/hook"]}}, "default": ["ops"]})
        site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
        config, rules = app.load(path)
        clock = Clock()
        asyncio.run(one_pass(config, rules, clock))
        for _ in range(3):  # retries while the second URL stays down
            clock.now += 3600
            asyncio.run(one_pass(config, rules, clock, feeds=[]))
        assert len(working.got("POST", "/hook")) == 1
        with connect(config.database) as db:
            status, error = db.execute("SELECT status, last_error FROM alerts").fetchone()
        assert status == "pending" and f"127.0.0.1:{down}" in error
        with Site(port=down) as back:
            clock.now += 3600
            asyncio.run(one_pass(config, rules, clock, feeds=[]))
            assert len(back.got("POST", "/hook")) == 1
        assert len(working.got("POST", "/hook")) == 1
    assert alert_rows(config) == [("sent", 5, False)]


def test_a_page_that_failed_for_a_while_is_fetched_again_and_can_alert(tmp_path, site: Site) -> None:
    """The page answers 503 at first: the item is completed from its summary, which matches no
    rule. Fifteen minutes later the page is there, and a rule matching its text alerts."""
    site.routes["/feed.xml"] = Route(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Le Fil</title><item><title>"
        f"Conseil de défense à l’Élysée</title><link>{site.base}/page</link><description>Réunion "
        f"autour du président.</description></item></channel></rss>".encode())
    site.routes["/page"] = Route(b"", status=503)
    with Site() as catcher:
        path = write_config(tmp_path, [{"name": "Le Fil", "url": site.url("/feed.xml")}],
                            {"ops": f"json://{catcher.base.split('//')[1]}/hook"}, ["ops"],
                            "rules:\n  - {name: tomahawk, any: [tomahawk]}\n", workers=0)
        config, rules = app.load(path)
        clock = Clock()
        asyncio.run(one_pass(config, rules, clock))
        assert catcher.got("POST", "/hook") == []
        site.routes["/page"] = Route((FIXTURES / "pages" / "lemonde-tomahawk.html").read_bytes(),
                                     content_type="text/html; charset=utf-8")
        clock.now += 600  # not yet due
        asyncio.run(one_pass(config, rules, clock, feeds=[]))
        assert catcher.got("POST", "/hook") == []
        clock.now += 600
        asyncio.run(one_pass(config, rules, clock, feeds=[]))
        (posted,) = catcher.got("POST", "/hook")
    assert json.loads(posted.body)["title"] == "Conseil de défense à l’Élysée"
    with connect(config.database) as db:
        assert db.execute("SELECT source, matched_rules, page_retry_at FROM items").fetchone() == \
            ("page", '["tomahawk"]', None)


def test_an_item_whose_completion_raises_waits_before_its_next_try(tmp_path, site: Site,
                                                                    monkeypatch) -> None:
    """A bug on one article leaves it new, and tried again a minute later, then two: not at
    every tick, and never dropped."""
    config, rules = setup(tmp_path, site, site_port(site))
    clock = Clock()
    real = analysis.analyse
    failing = {"/a1"}
    tries: list[float] = []

    def analyse(entry, *args):
        if any(entry.link.endswith(path) for path in failing):
            tries.append(clock.now)
            raise RuntimeError("a bug")
        return real(entry, *args)

    monkeypatch.setattr(analysis, "analyse", analyse)
    assert asyncio.run(one_pass(config, rules, clock)).processed == 1
    clock.now += 30
    assert asyncio.run(one_pass(config, rules, clock, feeds=[])).processed == 0  # not yet
    clock.now += 31
    assert asyncio.run(one_pass(config, rules, clock, feeds=[])).processed == 0  # failed again
    assert len(tries) == 2
    with connect(config.database) as db:
        assert db.execute("SELECT state, tries, retry_at FROM items WHERE link LIKE '%/a1'"
                          ).fetchone() == ("new", 2, clock.now + 120)
    failing.clear()
    clock.now += 120
    report = asyncio.run(one_pass(config, rules, clock, feeds=[]))
    assert (report.processed, report.sent) == (1, 1)


def test_a_new_interval_on_reload_reschedules_the_feed(tmp_path, site: Site) -> None:
    """A reload once logged the new interval and kept the old slot until the next poll."""
    config, rules = setup(tmp_path, site, free_port(),
                          [{"name": "Le Monde", "url": site.url("/feed.xml"), "interval": "1h"}])
    clock = Clock()

    async def main() -> tuple[float, float]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.run_pass(pipeline.enabled_feeds())
            before = pipeline.store.feeds.get(site.url("/feed.xml")).next_check
            faster = config.model_copy(update={"feeds": [
                config.feeds[0].model_copy(update={"interval": 600.0})]})
            pipeline.reconfigure(faster, rules, pipeline.context.notifier)
            return before, pipeline.store.feeds.get(site.url("/feed.xml")).next_check

    before, after = asyncio.run(main())
    assert before > clock.now + 3000  # an hour, give or take its jitter
    assert after == clock.now + 600


def _next_attempts(config) -> list[float]:
    with connect(config.database) as db:
        return [row[0] for row in db.execute("SELECT next_attempt FROM alerts ORDER BY id")]


def test_a_dead_channel_waits_longer_each_time_up_to_max_retry_delay(tmp_path, site) -> None:
    """Retries double, and `notify.max_retry_delay` caps them (the runner once ignored it, and
    a retry without doubling went unnoticed)."""
    port = free_port()
    site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
    path = write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}],
                        {"ops": f"json://127.0.0.1:{port}/hook"}, ["ops"], RULES, workers=0,
                        notify={"channels": {"ops": f"json://127.0.0.1:{port}/hook"},
                                "default": ["ops"], "max_retry_delay": "40s"})
    config, rules = app.load(path)
    clock = Clock()
    asyncio.run(one_pass(config, rules, clock))
    waits = []
    for _ in range(6):
        (due,) = _next_attempts(config)
        waits.append(due - clock.now)
        clock.now = due
        asyncio.run(one_pass(config, rules, clock, feeds=[]))
    # ~10 s, ~20 s, then 40 s at most (each in the upper half of its doubling: jitter)
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20
    assert waits[2] > waits[0] and all(wait <= 40 for wait in waits)
    assert max(waits[3:]) >= 20  # capped, not stuck at the first delay


def test_a_failing_feed_backs_off_up_to_poll_max_backoff(tmp_path, site: Site) -> None:
    """The runner once ignored `poll.max_backoff`, and no test saw it."""
    site.routes["/down.xml"] = Route(b"", status=500)
    path = write_config(tmp_path, [{"name": "Down", "url": site.url("/down.xml"),
                                    "interval": "60s"}], {}, ["console"], RULES, workers=0,
                        poll={"max_backoff": "5m"})
    config, rules = app.load(path)
    clock = Clock()
    delays = []
    for _ in range(8):
        asyncio.run(one_pass(config, rules, clock))
        with connect(config.database) as db:
            (next_check,) = db.execute("SELECT next_check FROM feeds").fetchone()
        delays.append(next_check - clock.now)
        clock.now = next_check
    assert delays[0] <= 66 and delays[3] > 2 * 60  # it doubles…
    assert max(delays) <= 300 * 1.1 and delays[-1] >= 300 * 0.9  # …up to five minutes


def test_a_channel_rate_limit_counts_across_passes(tmp_path, site: Site) -> None:
    """1/min: a story that comes a pass after another, in the same minute, waits for the next
    window (a count that forgot earlier passes once let every pass send its own)."""
    port = site_port(site)
    one, two = FEED.split("<item>")[1], FEED.split("<item>")[2]
    site.routes["/feed.xml"] = Route(FEED.replace("<item>" + two, "").format(
        base=site.base).encode())
    path = write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}],
                        {}, ["ops"], "rules:\n  - {name: any, any: [Tomahawk, Sénat]}\n",
                        workers=0,
                        notify={"channels": {"ops": {"urls": [f"json://127.0.0.1:{port}/hook"],
                                                     "rate_limit": "1/min"}},
                                "default": ["ops"]})
    config, rules = app.load(path)
    clock = Clock()

    async def main() -> list[tuple[int, int]]:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            first = await pipeline.run_pass(pipeline.enabled_feeds())
            site.routes["/feed.xml"] = Route(FEED.format(base=site.base).encode())
            clock.now += 10
            second = await pipeline.run_pass(pipeline.enabled_feeds())
            clock.now += 61
            third = await pipeline.run_pass([])
            return [(report.queued, report.sent) for report in (first, second, third)]

    assert one and asyncio.run(main()) == [(1, 1), (1, 0), (0, 1)]
    assert len(site.got("POST", "/hook")) == 2


def test_a_poll_that_cannot_be_recorded_is_taken_up_again_once_its_lease_ends(
        tmp_path, site: Site) -> None:
    """A recording that failed once (a full disk, a failing server) left the feed leased for
    good: the renewal kept extending it, and no instance polled it again (defect 2 of issue
    22). The daemon's own poll job, on a real database whose writes fail, then heal."""
    config, rules = setup(tmp_path, site, site_port(site))
    clock = Clock()

    async def scenario() -> None:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            with connect(config.database) as db:
                fail_updates(db, "feeds", "polls")
            (failed,) = await pipeline.polling.poll_due()
            assert failed.status == "failed" and failed.error
            assert failed.error.startswith("not recorded: database or disk is full")
            (said,) = pipeline.context.troubles.current(details=True)  # /healthz: degraded
            assert said.startswith("a finishing write refused by the database: poll of")
            assert pipeline.store.leases.renew(clock.now, config.lease) == 0  # none in progress
            clock.now += config.lease - 1
            assert await pipeline.polling.poll_due() == []  # its lease still runs
            with connect(config.database) as db:
                heal_updates(db, "feeds")
            clock.now += 2
            (polled,) = await pipeline.polling.poll_due()
            assert (polled.status, polled.new_items) == ("new", 2)

    asyncio.run(scenario())


def test_a_channel_whose_bookkeeping_fails_stops_no_other_and_repeats_nothing(
        tmp_path, site: Site) -> None:
    """A database error right after a successful send (here: marking it sent) stopped the
    whole delivery pass. The other channel's alert still goes out; this one, already
    delivered, is only marked sent once its lease has ended, never posted again."""
    config, rules = setup(tmp_path, site, site_port(site), hooks=("ops", "desk"))
    clock = Clock()

    async def scenario() -> None:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            await pipeline.process_pending()
            with connect(config.database) as db:
                fail_updates(db, "alerts", "status", when="NEW.channel = 'ops'")
            await pipeline.deliver_due()
            with connect(config.database) as db:
                assert channels(db) == [("desk", "sent"), ("ops", "pending")]
                heal_updates(db, "alerts")
            (said,) = pipeline.context.troubles.current(details=True)
            assert said.startswith("a finishing write refused by the database: delivery to 'ops'")
            clock.now += config.lease + 1
            await pipeline.deliver_due()

    asyncio.run(scenario())
    with connect(config.database) as db:
        assert channels(db) == [("desk", "sent"), ("ops", "sent")]
    assert [len(site.got("POST", hook)) for hook in ("/hook", "/desk")] == [1, 1]


def channels(db) -> list[tuple]:
    return db.execute("SELECT channel, status FROM alerts ORDER BY channel").fetchall()


def test_a_delivery_the_database_refused_to_record_is_recorded_on_a_later_try(
        tmp_path, site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A message went out and its record failed (a connection killed, a server restarting):
    once the lease ended it went out again. The record is tried again within seconds."""
    config, rules = setup(tmp_path, site, site_port(site))
    clock = Clock()

    async def scenario() -> None:
        async with app.open_pipeline(config, rules, clock=clock) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            await pipeline.process_pending()
            with connect(config.database) as db:
                fail_inserts(db, "deliveries")
            delivering = asyncio.create_task(pipeline.deliver_due())
            while "could not be recorded" not in caplog.text:
                await asyncio.sleep(0.05)
            with connect(config.database) as db:
                heal_updates(db, "deliveries")
            assert await delivering == (1, 0)
            clock.now += config.lease + 60
            assert await pipeline.deliver_due() == (0, 0)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert len(site.got("POST", "/hook")) == 1


def test_a_feed_that_changed_has_only_its_new_items_parsed(tmp_path, site: Site,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The second poll of a feed that gained an item parses that one alone (the others are
    the same bytes as in the last poll, stored): the same entries as a full parse, fewer
    parsed. A new process remembers nothing, and parses it whole."""
    config, rules = setup(tmp_path, site, site_port(site))
    grown = FEED.format(base=site.base).replace(
        "<title>Le Monde</title>", "<title>Le Monde</title><item><title>Tomahawk : Kiev "
        f"attend</title><link>{site.base}/a3</link><description>D.</description></item>")

    async def scenario() -> None:
        async with app.open_pipeline(config, rules) as pipeline:
            (first,) = await pipeline.poll_all(pipeline.enabled_feeds())
            site.routes["/feed.xml"] = Route(grown.encode())
            (second,) = await pipeline.poll_all(pipeline.enabled_feeds())
            assert (first.entries, first.new_items, second.entries, second.new_items) == \
                (2, 2, 3, 1)
            assert "3 entries (2 as last time, not parsed again), 1 new" in caplog.text
        async with app.open_pipeline(config, rules) as pipeline:
            site.routes["/feed.xml"] = Route(grown.replace("D.", "D. !").encode())
            (third,) = await pipeline.poll_all(pipeline.enabled_feeds())
            assert (third.entries, third.new_items) == (3, 0)
            assert "3 entries (0 as last time, not parsed again), 0 new" in caplog.text

    with caplog.at_level("INFO"):
        asyncio.run(scenario())
    with connect(config.database) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 3


def test_a_feeds_furniture_is_known_to_its_next_poll(tmp_path, site: Site) -> None:
    """The newscast's blurb under two items is found on the first poll; the item the next poll
    adds under it is parsed alone (its neighbours are known bytes), and is stored without it
    all the same."""
    config, rules = setup(tmp_path, site, site_port(site))
    blurb = "Chaque jour, retrouvez le journal de la rédaction pour faire le tour de l'actu."
    show = FEED.format(base=site.base).replace("Washington autorise la livraison.", blurb) \
        .replace("Le texte part en commission.", blurb)
    grown = show.replace("<title>Le Monde</title>", "<title>Le Monde</title><item><title>Grève "
                         f"à la SNCF</title><link>{site.base}/a3</link><description>{blurb}"
                         "</description></item>")
    site.routes["/feed.xml"] = Route(show.encode())

    async def scenario() -> None:
        async with app.open_pipeline(config, rules) as pipeline:
            await pipeline.poll_all(pipeline.enabled_feeds())
            site.routes["/feed.xml"] = Route(grown.encode())
            (second,) = await pipeline.poll_all(pipeline.enabled_feeds())
            assert (second.entries, second.new_items) == (3, 1)

    asyncio.run(scenario())
    with connect(config.database) as db:
        assert db.execute("SELECT link, summary FROM items ORDER BY id").fetchall() == [
            (f"{site.base}/a1", ""), (f"{site.base}/a2", ""), (f"{site.base}/a3", "")]
