"""The local newsroom most end-to-end tests run against: seven French outlets' feeds and
article pages (fixtures written for these tests), and rules that match some of them."""

from __future__ import annotations

from tests.servers import Site

RULES = """
rules:
  - name: tomahawk-ukraine
    all: [Tomahawk]
    any: [ukraine, kiev]
    none: ["jeu vidéo"]
    notify: [hook, mail]
  - name: zelensky-budapest
    entities: {PER: [Zelensky, Zelenski], LOC: [Budapest]}
  - name: desescalade
    any: [desescalade]
  - name: tempete
    any: [tempête]
"""

TOMAHAWK_TITLES = {
    "Washington autorise la livraison de missiles Tomahawk à l’Ukraine",
    "Guerre en Ukraine : les Etats-Unis donnent leur feu vert à l'envoi de missiles Tomahawk",
}


def serve_newsroom(site: Site) -> list[dict]:
    """Seven outlets' feeds and their pages; returns the feeds' config entries."""
    html = {"content_type": "text/html; charset=utf-8"}
    site.serve_fixture("/feeds/lemonde-international.xml", "feeds/lemonde-international.xml",
                       etag='"li-1"', gzip=True)
    site.serve_fixture("/feeds/lemonde-une.xml", "feeds/lemonde-une.xml",
                       last_modified="Mon, 24 Nov 2025 09:15:00 GMT")
    site.serve_fixture("/feeds/franceinfo.xml", "feeds/franceinfo-titres.xml", etag='W/"fi-7"')
    site.serve_fixture("/feeds/liberation.xml", "feeds/liberation.xml", etag='"lib-3"',
                       content_type="application/atom+xml")
    site.serve_fixture("/feeds/20minutes.xml", "feeds/20minutes-latin1.xml", etag='"vm-1"',
                       content_type="application/rss+xml")
    site.serve_fixture("/feeds/figaro.xml", "feeds/figaro-truncated.xml", etag='"fig-1"')
    site.serve_fixture("/feeds/ouest-france.xml", "feeds/lemonde-une.xml", status=500)
    pages = {
        "/lemonde/international/article/2025/11/24/tomahawk_6650001_3210.html":
            "lemonde-tomahawk.html",
        "/lemonde/m-le-mag/article/2025/11/24/tomahawk-barbecue_6650002_4500055.html":
            "lemonde-steak.html",
        "/lemonde/politique/article/2025/11/24/budget-senat_6650003_823448.html": "generic.html",
        "/franceinfo/monde/europe/guerre-en-ukraine-tomahawk_7612345.html":
            "franceinfo-tomahawk.html",
        "/franceinfo/culture/jeux-video/tomahawk-strike_7612399.html": "franceinfo-jeu.html",
        "/20minutes/monde/4189001-20251124-proche-orient-onu-appelle-desescalade":
            "20minutes-desescalade.html",
        # Libération's and Le Figaro's pages are missing (404): their summaries must do.
    }
    for path, page in pages.items():
        site.serve_fixture(path, f"pages/{page}", **html)
    names = {
        "lemonde-international": "Le Monde — International", "lemonde-une": "Le Monde — Une",
        "franceinfo": "franceinfo", "liberation": "Libération", "20minutes": "20 Minutes",
        "figaro": "Le Figaro", "ouest-france": "Ouest-France",
    }
    return [{"name": name, "url": site.url(f"/feeds/{key}.xml")} for key, name in names.items()]
