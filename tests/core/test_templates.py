from pathlib import Path

from monitor.core.templates import SAMPLE, check, render, render_digest


def test_default_message_in_each_format() -> None:
    markdown = render(SAMPLE, "markdown")
    assert markdown.splitlines() == [
        "**Priorité haute**",
        "**Règle :** tomahawk-ukraine — Missiles pour Kiev (Tomahawk, Ukraine)",
        "**Source :** Le Monde, 24/11/2025 09:12",
        "",
        "> … des missiles **Tomahawk** à l’**Ukraine** …",
        "",
        "https://www.lemonde.fr/international/article/2025/11/24/tomahawk.html",
    ]
    html = render(SAMPLE, "html")
    assert "<strong>Tomahawk</strong> à l’<strong>Ukraine</strong>" in html
    assert '<a href="https://www.lemonde.fr/international/article/2025/11/24/tomahawk.html">' in html
    text = render(SAMPLE, "text")
    assert "… des missiles Tomahawk à l’Ukraine …" in text and "**" not in text


def test_html_escapes_what_comes_from_feeds() -> None:
    hostile = {**SAMPLE, "outlet": "<script>alert(1)</script>",
               "excerpt": [["<img src=x onerror=alert(1)>", False], ["Tomahawk", True]]}
    html = render(hostile, "html")
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_user_templates_are_sandboxed_and_checked(tmp_path: Path) -> None:
    assert check("{{ title }} — {{ outlet }}", tmp_path) is None
    assert render(SAMPLE, "text", "[{{ rule }}] {{ title }}") == \
        "[tomahawk-ukraine] Washington autorise la livraison de missiles Tomahawk à l’Ukraine"
    assert check("{{ titel }}", tmp_path) == "template error on a match alert: 'titel' is undefined"
    assert check("{% if %}", tmp_path).startswith("template error at line 1:")
    assert check("{{ ''.__class__.__mro__ }}", tmp_path) == \
        "template error on a match alert: access to attribute '__class__' of 'str' object is " \
        "unsafe."
    (tmp_path / "slack.j2").write_text("*{{ title }}*\n{{ url }}")
    assert check("slack.j2", tmp_path) is None
    assert check("missing.j2", tmp_path).startswith("cannot read the template")


def test_digest_groups_by_rule() -> None:
    other = {**SAMPLE, "rule": "otan", "description": "", "title": "Sommet de l’OTAN",
             "url": "https://x.fr/otan"}
    title, body = render_digest([SAMPLE, other, {**SAMPLE, "title": "Encore des Tomahawk"}],
                                "markdown")
    assert title == "monitor : 3 alertes"
    lines = body.splitlines()
    assert lines[0] == "**tomahawk-ukraine** — Missiles pour Kiev"
    assert lines[1].startswith("- [Washington autorise") and lines[2].startswith("- [Encore")
    assert "**otan**" in lines and lines[-1].startswith("- [Sommet de l’OTAN](https://x.fr/otan)")


def test_a_briefing_has_a_section_per_story_with_its_growth_and_rules() -> None:
    from monitor.core.templates import render_briefing

    story = {"title": "Missiles pour l’Ukraine", "articles": 4, "outlets": ["RFI", "Le Monde"],
             "rules": ["otan"], "since": "24/11 à 09:12"}
    other = {**SAMPLE, "title": "Sommet <b>OTAN</b>", "rule": "otan", "url": None}
    title, html = render_briefing([(story, [SAMPLE, {**SAMPLE, "title": "Encore"}]),
                                   ({"title": "Sommet <b>OTAN</b>"}, [other])], "html")
    assert title == "monitor : 2 sujets"
    assert html.count("<h3>") == 2 and "<h3>Missiles pour l’Ukraine</h3>" in html
    assert "4 article(s), 2 source(s) : RFI, Le Monde — depuis le 24/11 à 09:12" in html
    assert "Règles : otan, tomahawk-ukraine" in html  # the story's and its alerts'
    assert "Sommet &lt;b&gt;OTAN&lt;/b&gt;" in html and "<b>OTAN" not in html
    _, text = render_briefing([(story, [SAMPLE])], "text")
    assert text.splitlines()[:2] == ["== Missiles pour l’Ukraine ==",
                                     "4 article(s), 2 source(s) : RFI, Le Monde — depuis le "
                                     "24/11 à 09:12"]


def test_the_load_check_renders_every_kind_of_alert(tmp_path) -> None:
    """A template that works on a match but not on a follow-up (no terms) is refused at load."""
    from monitor.core.templates import check

    assert check("{{ title }} {{ terms | join(', ') }}", tmp_path) is None
    problem = check("{{ terms[0].upper() }}", tmp_path)
    assert problem is not None and "follow-up alert" in problem
