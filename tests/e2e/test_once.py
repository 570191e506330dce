"""The user's story end to end: feeds in, one alert per story and rule out, exactly once.

Real parts only: an HTTP server on 127.0.0.1 serving French feeds and article pages and catching
Apprise's json:// posts, an aiosmtpd server receiving Apprise's e-mails, the real SQLite file,
and the real `monitor once` command in a subprocess.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.db import connect
from tests.e2e.helpers import monitor, posted_alerts, rule_of, write_config
from tests.e2e.newsroom import RULES, TOMAHAWK_TITLES, serve_newsroom
from tests.servers import Mailbox, Site


@pytest.fixture
def newsroom(tmp_path, site: Site, mailbox: Mailbox):
    feeds = serve_newsroom(site)
    config = write_config(tmp_path, feeds, default=["hook"], rules=RULES, channels={
        "hook": f"json://127.0.0.1:{site.base.rsplit(':', 1)[1]}/hook",
        "mail": mailbox.url(),
    })
    return config, site, mailbox


def test_one_alert_per_story_and_rule_then_nothing_on_the_second_run(newsroom) -> None:
    config, site, mailbox = newsroom

    first = monitor("once", "--config", str(config))

    assert first.returncode == 0, first.stderr
    assert "feed 'Ouest-France' failed: HTTP 500" in first.stderr
    assert "feed 'Le Figaro' failed" not in first.stderr  # truncated, yet its items are read
    assert "monitor: feed 'Le Figaro' is malformed: " in first.stderr  # and the user is told
    assert "(2 entries read all the same)" in first.stderr
    # the follow-ups wait for the hourly digest, and the summary says so
    when = r"(\d\d/\d\d )?\d\d:\d\d"  # (the day too when it is not today)
    assert re.search(rf"0 failed, 2 held \(hook: 1 until {when}, mail: 1 until {when}\)$",
                     first.stderr.splitlines()[-1]), first.stderr
    hook = posted_alerts(site)
    assert Counter(rule_of(alert["message"]) for alert in hook) == {
        "tomahawk-ukraine": 1, "zelensky-budapest": 1, "desescalade": 1, "tempete": 1}
    tomahawk = next(a for a in hook if rule_of(a["message"]) == "tomahawk-ukraine")
    assert tomahawk["title"] in TOMAHAWK_TITLES
    assert "xtor" not in tomahawk["message"] and "utm_" not in tomahawk["message"]
    assert "Tomahawk" in tomahawk["message"] and "**" not in tomahawk["message"]  # plain text
    zelensky = next(a for a in hook if rule_of(a["message"]) == "zelensky-budapest")
    assert "Libération" in zelensky["message"]  # from the summary: the page was a 404

    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["Subject"] in TOMAHAWK_TITLES
    assert mail["To"] == "veille@example.org"
    html = mail.get_body(preferencelist=("html",)).get_content()
    # a matched word in bold: the passage around the first one (whichever outlet's article
    # leads the story, Le Monde's or franceinfo's, whose chapô names Kiev first)
    assert re.search(r"<strong>(Tomahawk|Ukraine|Kiev)</strong>", html, re.IGNORECASE), html
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Règle : tomahawk-ukraine" in plain and "Tomahawk" in plain
    # no stray indentation, no quoting `>`: what Apprise made of <br> and <blockquote>
    assert not [line for line in plain.splitlines() if line.startswith((" ", ">"))], plain
    assert site.base + "/lemonde/international/article/2025/11/24/tomahawk_6650001_3210.html" \
        in html or site.base + "/franceinfo/monde/europe/guerre-en-ukraine-tomahawk_7612345.html" \
        in html

    pages_first = [r.path for r in site.got("GET") if not r.path.startswith("/feeds/")]
    # 9 distinct items (the truncated feed still yields its 2); each page fetched once.
    assert len(pages_first) == len(set(pages_first)) == 9
    with connect(config.parent / "state" / "monitor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE link LIKE '%tomahawk_6650001%'"
                          ).fetchone()[0] == 1  # in two Le Monde feeds, with different xtor
        assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'new'").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'alert' AND status != 'sent'"
                          ).fetchone()[0] == 0
        # The second outlet of the Tomahawk story: a follow-up per channel, held for the digest.
        assert db.execute("SELECT channel, status, batch FROM alerts WHERE kind = 'followup' "
                          "ORDER BY channel").fetchall() == [("hook", "pending", 1),
                                                             ("mail", "pending", 1)]

    before = len(site.requests)
    second = monitor("once", "--config", str(config))

    assert second.returncode == 0, second.stderr
    assert len(posted_alerts(site)) == 4 and len(mailbox.messages) == 1
    again = site.requests[before:]
    assert all(r.path.startswith("/feeds/") for r in again), "no page is fetched again"
    conditional = {r.path: r.headers for r in again}
    assert conditional["/feeds/lemonde-international.xml"]["if-none-match"] == '"li-1"'
    assert conditional["/feeds/franceinfo.xml"]["if-none-match"] == 'W/"fi-7"'
    assert conditional["/feeds/lemonde-une.xml"]["if-modified-since"] == \
        "Mon, 24 Nov 2025 09:15:00 GMT"
    assert "0 new item(s)" in second.stderr
    table = monitor("feeds", "--config", str(config)).stdout.splitlines()
    figaro = next(line for line in table if line.startswith("Le Figaro"))
    assert figaro.split()[2] == "malformed"
    assert next(line for line in table if line.startswith("franceinfo")).split()[1] == "ok"
    # What `once` calls held, `alerts` calls held too.
    held = monitor("alerts", "--status", "held", "--config", str(config)).stdout.splitlines()
    assert [line.split()[1:3] for line in held[1:-1]] == [["held", "mail"], ["held", "hook"]]

    quiet = monitor("once", "-q", "--config", str(config))
    assert quiet.returncode == 0
    assert quiet.stderr.splitlines() == ["monitor: feed 'Ouest-France' failed: HTTP 500"]


def test_user_agent_names_the_project(newsroom) -> None:
    config, site, _ = newsroom
    monitor("once", "--config", str(config))
    agents = {r.headers.get("user-agent", "") for r in site.got("GET")}
    assert agents and all(agent.startswith("monitor/") for agent in agents)
