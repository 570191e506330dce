"""config.yaml edited in place: comments, layout and ${VARS} kept; an invalid result refused."""

from pathlib import Path

import pytest

from monitor.config.config import load
from monitor.config.edit import add_feeds, remove_feed
from monitor.core.errors import InvalidInput

CONFIG = """# Veille de la rédaction
database: veille.db   # à côté de ce fichier

feeds:
    # les quotidiens
    -   name: Le Monde
        url: https://www.lemonde.fr/rss/une.xml   # la une
    -   name: RFI
        url: https://www.rfi.fr/fr/rss

notify:
    channels:
        slack: slack://${SLACK_A}/${SLACK_B}/${SLACK_C}/#veille
    default: [slack]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_adding_keeps_every_line_and_follows_the_file_s_indentation(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    add_feeds(path, [{"name": "Mediapart", "url": "https://www.mediapart.fr/articles/feed",
                      "tags": ["enquête", "politique"]}])
    text = path.read_text(encoding="utf-8")
    assert text == CONFIG.replace("        url: https://www.rfi.fr/fr/rss\n", """\
        url: https://www.rfi.fr/fr/rss
    -   name: Mediapart
        url: https://www.mediapart.fr/articles/feed
        tags: [enquête, politique]
""")
    env = {"SLACK_A": "a", "SLACK_B": "b", "SLACK_C": "c"}
    assert [feed.name for feed in load(path, env).feeds] == ["Le Monde", "RFI", "Mediapart"]


def test_removing_leaves_the_rest_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    assert remove_feed(path, "https://www.rfi.fr/fr/rss")
    assert path.read_text(encoding="utf-8") == CONFIG.replace(
        "    -   name: RFI\n        url: https://www.rfi.fr/fr/rss\n", "")
    assert not remove_feed(path, "RFI")


def test_an_empty_list_or_no_file_gets_a_readable_block_list(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds: []  # à remplir\n")
    add_feeds(path, [{"name": "RFI", "url": "https://www.rfi.fr/fr/rss"}])
    lines = path.read_text().splitlines()
    assert lines[0].split() == ["feeds:", "#", "à", "remplir"]
    assert lines[1:] == ["  - name: RFI", "    url: https://www.rfi.fr/fr/rss"]
    missing = tmp_path / "new" / "config.yaml"
    missing.parent.mkdir()
    add_feeds(missing, [{"name": "RFI", "url": "https://www.rfi.fr/fr/rss"}])
    assert load(missing, {}).feeds[0].url == "https://www.rfi.fr/fr/rss"


def test_an_edit_that_would_make_the_config_invalid_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    with pytest.raises(InvalidInput, match="is not an http"):
        add_feeds(path, [{"name": "FTP", "url": "ftp://a.fr/rss"}])
    assert path.read_text(encoding="utf-8") == CONFIG
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temporary file left
