"""Three outlets carry one story that two rules match: one message per channel naming both
rules, follow-ups saying who else reported it, and `monitor stories` showing the story with its
outlets and why each joined."""

from __future__ import annotations

import json

from tests.e2e.helpers import monitor, posted_alerts, write_config
from tests.servers import FIXTURES, Route, Site

FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{outlet}</title>
<item><title>{title}</title><link>{base}/{slug}</link><description>{summary}</description>
<pubDate>Mon, 24 Nov 2025 {time} +0100</pubDate></item></channel></rss>"""

OUTLETS = [
    ("lemonde", "Le Monde", "09:12", "Washington autorise la livraison de missiles Tomahawk à l’Ukraine",
     "lemonde-tomahawk.html"),
    ("franceinfo", "franceinfo", "10:05",
     "Guerre en Ukraine : les Etats-Unis donnent leur feu vert à l'envoi de missiles Tomahawk",
     "franceinfo-tomahawk.html"),
    ("ouest", "Ouest-France", "10:40", "Les États-Unis vont livrer des missiles Tomahawk à Kiev",
     "franceinfo-tomahawk.html"),  # the same page again: its rel=canonical names franceinfo
]


def test_three_outlets_one_story_one_message_per_channel_naming_every_rule(tmp_path, site: Site) -> None:
    feeds = []
    for slug, outlet, time, title, page in OUTLETS:
        site.routes[f"/{slug}.xml"] = Route(FEED.format(
            outlet=outlet, title=title, base=site.base, slug=f"{slug}-article", time=time,
            summary="Le Pentagone a donné son feu vert.").encode())
        site.routes[f"/{slug}-article"] = Route((FIXTURES / "pages" / page).read_bytes(),
                                                content_type="text/html; charset=utf-8")
        feeds.append({"name": outlet, "url": site.url(f"/{slug}.xml")})
    hook = f"json://{site.base.split('//')[1]}"
    config = write_config(tmp_path, feeds, {"veille": f"{hook}/veille", "ops": f"{hook}/ops"},
                          ["veille", "ops"],
                          "rules:\n  - {name: tomahawk, all: [Tomahawk]}\n"
                          "  - {name: ukraine, any: [Ukraine, Kiev]}\n",
                          dedup={"followups": "message"}, workers=1)

    result = monitor("once", "--config", str(config))

    assert result.returncode == 0, result.stderr
    for channel in ("/veille", "/ops"):
        messages = posted_alerts(site, channel)
        headlines = [m for m in messages if not m["title"].startswith("Aussi repris par")]
        followups = sorted(m["title"].split(" : ")[0] for m in messages
                           if m["title"].startswith("Aussi repris par"))
        assert len(headlines) == 1, headlines  # one per story, not one per rule or outlet
        assert "tomahawk" in headlines[0]["message"] and "ukraine" in headlines[0]["message"]
        # two other outlets joined, each announced once
        assert len(followups) == 2 and len(set(followups)) == 2

    listing = monitor("stories", "--config", str(config))
    assert listing.returncode == 0
    assert "3 article(s), 3 outlet(s)" in listing.stdout
    outlets = listing.stdout.splitlines()[1].strip().split(", ")  # in their order of arrival
    assert sorted(outlets) == ["Le Monde", "Ouest-France", "franceinfo"]

    (story,) = json.loads(monitor("stories", "--json", "--config", str(config)).stdout)
    assert {a["outlet"] for a in story["articles"]} == {"Le Monde", "franceinfo", "Ouest-France"}
    joins = [a["joined_by"] for a in story["articles"]]
    assert joins[0] == "new"
    # the wire copy joins by its text; the third site's page names the second's as its
    # canonical URL (rel=canonical): the same article, joined by its address
    assert sorted(joins[1:]) == ["near-copy", "same-url"]
    links = {a["link"] for a in story["articles"]}
    assert "https://www.lemonde.fr/international/article/2025/11/24/washington-autorise-la-" \
        "livraison-de-missiles-tomahawk-a-l-ukraine_6650001_3210.html" in links  # rel=canonical
    assert "https://www.francetvinfo.fr/monde/europe/manifestations-en-ukraine/guerre-en-ukraine-" \
        "les-etats-unis-donnent-leur-feu-vert-a-l-envoi-de-missiles-tomahawk_7612345.html" in links
    assert all(a["published"].startswith("2025-11-24T") for a in story["articles"])
