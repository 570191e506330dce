"""`monitor feeds add | remove | poll | import | export` against a local site, editing a real file."""

from __future__ import annotations

import yaml

from monitor.core.opml import parse
from tests.e2e.helpers import Daemon, monitor, monitor_in, write_config
from tests.servers import FIXTURES, Route, Site, wait_for

FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Le Fil de test</title>"
        "<item><title>Un</title><link>{base}/1</link></item>"
        "<item><title>Deux</title><link>{base}/2</link></item></channel></rss>")
HOME = ("<!DOCTYPE html><html><head><title>Accueil</title>"
        "<link rel='alternate' type='application/rss+xml' href='/rss/une.xml'></head>"
        "<body>Bienvenue</body></html>")


def setup(tmp_path, site: Site, **network):
    site.routes["/"] = Route(HOME.encode(), content_type="text/html")
    site.routes["/rss/une.xml"] = Route(FEED.format(base=site.base).encode())
    return write_config(tmp_path, [], {}, ["console"], "rules: []\n",
                        network={"allow_private_addresses": True, **network})


def feeds_in(config) -> list[dict]:
    return yaml.safe_load(config.read_text())["feeds"]


def test_add_finds_the_feed_a_page_links_and_appends_it(tmp_path, site: Site) -> None:
    config = setup(tmp_path, site)
    added = monitor_in(tmp_path, "feeds", "add", site.url("/"), "--tags", "une, france",
                       "-c", str(config))
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == \
        f"added 'Le Fil de test': {site.url('/rss/une.xml')} (2 item(s) listed now)"
    assert "takes the change up within seconds" in added.stdout
    assert feeds_in(config) == [{"name": "Le Fil de test", "url": site.url("/rss/une.xml"),
                                 "tags": ["une", "france"]}]
    again = monitor_in(tmp_path, "feeds", "add", site.url("/rss/une.xml"), "-c", str(config))
    assert again.returncode == 1 and "already in" in again.stderr
    assert len(feeds_in(config)) == 1

    removed = monitor_in(tmp_path, "feeds", "remove", "Le Fil de test", "-c", str(config))
    assert removed.returncode == 0, removed.stderr
    assert feeds_in(config) == []
    assert monitor_in(tmp_path, "feeds", "remove", "Le Fil de test", "-c", str(config)
                      ).returncode == 1


def test_add_tries_the_usual_addresses_and_says_when_there_is_no_feed(tmp_path, site) -> None:
    config = setup(tmp_path, site)
    site.routes["/page"] = Route(b"<html><head></head><body>rien</body></html>",
                                 content_type="text/html")
    assert monitor_in(tmp_path, "feeds", "add", site.url("/page"), "-c", str(config)
                      ).returncode == 1
    site.routes["/feed"] = Route(FEED.format(base=site.base).encode())
    added = monitor_in(tmp_path, "feeds", "add", site.url("/page"), "--name", "Fil",
                       "-c", str(config))
    assert added.returncode == 0, added.stderr
    assert feeds_in(config) == [{"name": "Fil", "url": site.url("/feed")}]
    missing = monitor_in(tmp_path, "feeds", "add", site.url("/nowhere"), "-c", str(config))
    assert (missing.returncode, missing.stderr.strip()) == (
        1, f"monitor: {site.url('/nowhere')}: HTTP 404")


def test_add_goes_through_the_address_guard(tmp_path, site: Site) -> None:
    config = setup(tmp_path, site, allow_private_addresses=False)
    refused = monitor_in(tmp_path, "feeds", "add", site.url("/"), "-c", str(config))
    assert refused.returncode == 1
    assert "private or local address" in refused.stderr
    assert feeds_in(config) == []


def test_import_an_opml_export_then_export_it_again(tmp_path, site: Site) -> None:
    config = setup(tmp_path, site)
    source = FIXTURES / "opml" / "miniflux.opml"
    imported = monitor_in(tmp_path, "feeds", "import", str(source), "-c", str(config))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"imported 3 feed(s) from {source}")
    assert [(f["name"], f["tags"]) for f in feeds_in(config)] == [
        ("Le Monde — International", ["International", "Politique"]),
        ("RFI", ["International"]), ("Libération", ["Politique"])]
    exported = monitor_in(tmp_path, "feeds", "export", "-c", str(config))
    assert exported.returncode == 0, exported.stderr
    assert parse(exported.stdout.encode()) == parse(source.read_bytes())
    again = monitor_in(tmp_path, "feeds", "import", str(source), "-c", str(config))
    assert again.stdout.splitlines()[0] == f"imported 0 feed(s) from {source}"
    assert "skipped, already configured: RFI (https://www.rfi.fr/fr/rss)" in again.stdout
    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body>")
    failed = monitor_in(tmp_path, "feeds", "import", str(broken), "-c", str(config))
    assert failed.returncode == 2 and failed.stderr.startswith(f"monitor: {broken}: not well")


def test_an_untitled_outline_is_named_by_the_feed_itself(tmp_path, site: Site) -> None:
    config = setup(tmp_path, site)
    site.serve_fixture("/rss.xml", "feeds/lemonde-une.xml")
    listing = tmp_path / "untitled.opml"
    listing.write_text(f"<opml version='2.0'><body><outline type='rss' xmlUrl='{site.base}/rss.xml'/>"
                       f"<outline type='rss' xmlUrl='{site.base}/gone.xml'/></body></opml>")
    imported = monitor_in(tmp_path, "feeds", "import", str(listing), "-c", str(config))
    assert imported.returncode == 0, imported.stderr
    names = {f["url"]: f["name"] for f in feeds_in(config)}
    assert names[f"{site.base}/rss.xml"] == "Le Monde.fr - Actualités et Infos en France et dans le monde"
    assert names[f"{site.base}/gone.xml"] == f"{site.base}/gone.xml"  # unreadable: its URL


def test_poll_has_the_running_daemon_poll_a_feed_now(tmp_path, site: Site) -> None:
    """A feed polled hourly is polled again within a tick of `monitor feeds poll`."""
    site.serve_fixture("/rss.xml", "feeds/lemonde-une.xml", etag='"1"')
    config = write_config(tmp_path, [{"name": "Le Monde", "url": f"{site.base}/rss.xml",
                                      "interval": "1h"}], {}, ["console"], "rules: []\n",
                          poll={"tick": "1s"})
    daemon = Daemon(config)
    try:
        wait_for(lambda: len(site.got("GET", "/rss.xml")) == 1 or not daemon.alive())
        result = monitor("feeds", "poll", "Le Monde", "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert "'Le Monde' is due now: a running daemon polls it within 1 s" in result.stdout
        wait_for(lambda: len(site.got("GET", "/rss.xml")) == 2 or not daemon.alive(), timeout=30)
        assert daemon.alive(), daemon.log()
    finally:
        daemon.close()
    unknown = monitor("feeds", "poll", "Nope", "--config", str(config))
    assert unknown.returncode == 2 and "no feed named 'Nope'" in unknown.stderr
