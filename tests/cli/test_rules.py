"""`monitor rules test` and `monitor rules backtest`, run as a user would."""

from pathlib import Path

import pytest

from tests.e2e.helpers import monitor_in, write_config
from tests.servers import FIXTURES, Route, Site

RULES = """
rules:
  - name: tomahawk-ukraine
    all: [Tomahawk]
    any: [Ukraine]
  - name: budget
    any: [{near: {terms: [Sénat, budget], within: 4}}]
"""


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "mes-regles.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


def test_text_that_matches(tmp_path: Path, rule_file: Path) -> None:
    result = monitor_in(tmp_path, "rules", "test", str(rule_file),
                        "--text", "Des missiles Tomahawk pour l’Ukraine")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"MATCH tomahawk-ukraine  ({rule_file.relative_to(tmp_path)}:3)",  # as the user wrote it
        "  'Tomahawk' in text [13:21]: Des missiles **Tomahawk** pour l’Ukraine",
        "  'Ukraine' in text [29:36]: Des missiles Tomahawk pour l’**Ukraine**",
        "1 of 2 rule(s) match",
    ]


def test_text_that_does_not_match_exits_1(tmp_path: Path, rule_file: Path) -> None:
    result = monitor_in(tmp_path, "rules", "test", str(rule_file), "--text", "Rien à voir")
    assert result.returncode == 1 and result.stdout.strip() == "0 of 2 rule(s) match"


def test_an_html_file_is_extracted_first(tmp_path: Path, rule_file: Path) -> None:
    page = FIXTURES / "pages" / "generic.html"
    result = monitor_in(tmp_path, "rules", "test", str(rule_file), "--file", str(page))
    assert result.returncode == 0
    assert "MATCH budget" in result.stdout and "'Sénat' in " in result.stdout


def test_a_url_is_fetched_and_extracted(tmp_path: Path, rule_file: Path, site: Site) -> None:
    site.routes["/article"] = Route((FIXTURES / "pages" / "lemonde-tomahawk.html").read_bytes(),
                                    content_type="text/html; charset=utf-8")
    config = write_config(tmp_path, [], {}, ["console"], "rules: []\n")  # allows 127.0.0.1
    result = monitor_in(tmp_path, "rules", "test", str(rule_file), "--config", str(config),
                        "--url", site.url("/article"))
    assert result.returncode == 0, result.stderr
    assert "'Tomahawk' in title" in result.stdout and "'Ukraine' in text" in result.stdout
    assert "cookies" not in result.stdout


def test_a_private_url_is_refused_without_the_config_allowing_it(tmp_path: Path,
                                                                  rule_file: Path) -> None:
    result = monitor_in(tmp_path, "rules", "test", str(rule_file), "--url", "http://127.0.0.1:9/")
    assert result.returncode == 2 and "private or local address" in result.stderr


def test_an_invalid_rule_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    any: [{regex: '('}]\n")
    result = monitor_in(tmp_path, "rules", "test", str(bad), "--text", "x")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{bad}:3: rules[0].any[0].regex: invalid regular expression")


def test_backtest_counts_alerts_per_story_and_sends_nothing(tmp_path: Path, site: Site) -> None:
    feed = (FIXTURES / "feeds" / "lemonde-international.xml").read_bytes()
    site.routes["/feed.xml"] = Route(feed.replace(b"{{BASE}}", site.base.encode()))
    catcher = f"json://{site.base.split('//')[1]}/hook"
    config = write_config(tmp_path, [{"name": "Le Monde", "url": site.url("/feed.xml")}],
                          {"hook": catcher}, ["hook"], "rules: []\n")
    assert monitor_in(tmp_path, "once", "--config", str(config)).returncode == 0
    rules = tmp_path / "new.yaml"
    rules.write_text(RULES + "  - {name: tout, any: [a, le, la, les, de]}\n", encoding="utf-8")

    result = monitor_in(tmp_path, "rules", "backtest", str(rules), "--since", "1h",
                        "--config", str(config))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("3 stored article(s) since 1h ago; 3 rule(s); nothing is sent; times in "
                        "Europe/Paris")
    # latest first, in the config's time zone (the feed says +0100: Paris in November)
    every = lines[lines.index("tout: 3 alert(s) (stories), 3 matching article(s)") + 1:]
    assert [line.split("  ")[1] for line in every if not line.startswith("      ")] == [
        "2025-11-24 09:12 CET", "2025-11-24 08:30 CET", "2025-11-24 07:45 CET"]
    assert "tomahawk-ukraine: 1 alert(s) (stories), 1 matching article(s)" in lines
    assert "budget: 1 alert(s) (stories), 1 matching article(s)" in lines
    assert any("Le Monde: Washington autorise la livraison" in line for line in lines)
    assert site.got("POST") == []


def test_the_box_about_the_source_outlet_is_not_the_article(tmp_path: Path) -> None:
    """A press review's « Source de l’article » box says what the translated outlet thinks of
    Trump: a rule on Trump must not fire on an article about copper mines."""
    rules = tmp_path / "trump.yaml"
    rules.write_text("rules:\n  - {name: trump, any: [Trump]}\n  - {name: cuivre, any: [cuivre]}\n",
                     encoding="utf-8")
    page = FIXTURES / "pages" / "revue-presse-source.html"
    result = monitor_in(tmp_path, "rules", "test", str(rules), "--file", str(page))
    assert result.returncode == 0, result.stderr
    assert "MATCH cuivre" in result.stdout and "MATCH trump" not in result.stdout
