"""Alert messages: the default texts per format, and users' own Jinja2 templates, sandboxed.

An alert is stored as a payload (title, link, outlet, date, rule, terms, excerpt…) and rendered
only when sent, in the format of the channel it goes to: Markdown for chat services, HTML for
e-mail, plain text otherwise. Users' templates run in Jinja2's sandbox, and are checked when the
config loads by rendering a sample alert, so a typo is a load error, not a lost alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

FORMATS = ("markdown", "html", "text")
TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")

MESSAGE = {
    "markdown": """\
{% if priority == "high" %}**Priorité haute**
{% endif %}**Règle :** {{ rule }}{% if description %} — {{ description }}{% endif %}\
{% if terms %} ({{ terms | join(", ") }}){% endif %}
**Source :** {{ outlet }}{% if published %}, {{ published }}{% endif %}

> {{ excerpt }}
{% if url %}
{{ url }}
{% endif %}""",
    # No line break after <br> and no <blockquote>: an e-mail's plain-text part is made from
    # this HTML (by Apprise), where they become stray indentation and a `>`.
    "html": """\
<p>{% if priority == "high" %}<strong>Priorité haute</strong><br>{% endif %}\
<strong>Règle :</strong> {{ rule }}{% if description %} — {{ description }}{% endif %}\
{% if terms %} ({{ terms | join(", ") }}){% endif %}<br>\
<strong>Source :</strong> {{ outlet }}{% if published %}, {{ published }}{% endif %}</p>
<p style="margin-left:1em;padding-left:.8em;border-left:3px solid #ccc">{{ excerpt }}</p>
{% if url %}<p><a href="{{ url }}">{{ url }}</a></p>
{% endif %}""",
    "text": """\
{% if priority == "high" %}PRIORITÉ HAUTE
{% endif %}Règle : {{ rule }}{% if description %} — {{ description }}{% endif %}\
{% if terms %} ({{ terms | join(", ") }}){% endif %}
Source : {{ outlet }}{% if published %}, {{ published }}{% endif %}

{{ excerpt }}
{% if url %}
{{ url }}
{% endif %}""",
}

DIGEST = {
    "markdown": """\
{% for group in rules %}**{{ group.rule }}**{% if group.description %} — {{ group.description }}{% endif %}
{% for alert in group.alerts %}- {% if alert.url %}[{{ alert.title }}]({{ alert.url }}){% else %}{{ alert.title }}{% endif %} — {{ alert.outlet }}{% if alert.published %}, {{ alert.published }}{% endif %}
{% endfor %}
{% endfor %}""",
    "html": """\
{% for group in rules %}<h3>{{ group.rule }}{% if group.description %} — {{ group.description }}{% endif %}</h3>
<ul>
{% for alert in group.alerts %}<li>{% if alert.url %}<a href="{{ alert.url }}">{{ alert.title }}</a>{% else %}{{ alert.title }}{% endif %} — {{ alert.outlet }}{% if alert.published %}, {{ alert.published }}{% endif %}</li>
{% endfor %}</ul>
{% endfor %}""",
    "text": """\
{% for group in rules %}{{ group.rule }}{% if group.description %} — {{ group.description }}{% endif %}
{% for alert in group.alerts %}- {{ alert.title }} — {{ alert.outlet }}{% if alert.published %}, {{ alert.published }}{% endif %}{% if alert.url %}
  {{ alert.url }}{% endif %}
{% endfor %}
{% endfor %}""",
}

# A briefing: the digest told story by story (`digest: {…, briefing: true}`).
BRIEFING = {
    "markdown": """\
{% for story in stories %}**{{ story.title }}**
{% if story.articles %}{{ story.articles }} article(s), {{ story.outlets | length }} source(s) : {{ story.outlets | join(", ") }}{% if story.since %} — depuis le {{ story.since }}{% endif %}
{% endif %}{% if story.rules %}Règles : {{ story.rules | join(", ") }}
{% endif %}{% for alert in story.alerts %}- {% if alert.url %}[{{ alert.title }}]({{ alert.url }}){% else %}{{ alert.title }}{% endif %} — {{ alert.outlet }}
{% endfor %}
{% endfor %}""",
    "html": """\
{% for story in stories %}<h3>{{ story.title }}</h3>
{% if story.articles %}<p>{{ story.articles }} article(s), {{ story.outlets | length }} source(s) : {{ story.outlets | join(", ") }}{% if story.since %} — depuis le {{ story.since }}{% endif %}</p>
{% endif %}{% if story.rules %}<p>Règles : {{ story.rules | join(", ") }}</p>
{% endif %}<ul>
{% for alert in story.alerts %}<li>{% if alert.url %}<a href="{{ alert.url }}">{{ alert.title }}</a>{% else %}{{ alert.title }}{% endif %} — {{ alert.outlet }}</li>
{% endfor %}</ul>
{% endfor %}""",
    "text": """\
{% for story in stories %}== {{ story.title }} ==
{% if story.articles %}{{ story.articles }} article(s), {{ story.outlets | length }} source(s) : {{ story.outlets | join(", ") }}{% if story.since %} — depuis le {{ story.since }}{% endif %}
{% endif %}{% if story.rules %}Règles : {{ story.rules | join(", ") }}
{% endif %}{% for alert in story.alerts %}- {{ alert.title }} — {{ alert.outlet }}{% if alert.url %}
  {{ alert.url }}{% endif %}
{% endfor %}
{% endfor %}""",
}

SAMPLE: dict[str, Any] = {
    "title": "Washington autorise la livraison de missiles Tomahawk à l’Ukraine",
    "url": "https://www.lemonde.fr/international/article/2025/11/24/tomahawk.html",
    "outlet": "Le Monde", "published": "24/11/2025 09:12", "rule": "tomahawk-ukraine",
    "description": "Missiles pour Kiev", "priority": "high", "terms": ["Tomahawk", "Ukraine"],
    "excerpt": [["… des missiles ", False], ["Tomahawk", True], [" à l’", False],
                ["Ukraine", True], [" …", False]],
}

_lenient = {fmt: SandboxedEnvironment(autoescape=fmt == "html", keep_trailing_newline=False)
            for fmt in FORMATS}
_strict = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def source_of(value: str, base: Path) -> str:
    """A channel's `template:` is a file (ending .j2/.jinja) or the template text itself."""
    if "\n" not in value and value.strip().endswith(TEMPLATE_SUFFIXES):
        return (base / value.strip()).read_text(encoding="utf-8")
    return value


def samples() -> dict[str, dict[str, Any]]:
    """One alert of each kind a channel's template renders: a template that works on matches
    but fails on a follow-up (no terms) would fail that alert when it comes."""
    from monitor.core.alerts import followup_payload

    _, followup = followup_payload(SAMPLE["title"], SAMPLE["url"], "franceinfo", SAMPLE["published"],
                                   SAMPLE["rule"], "normal", new_outlet=True)
    stale = {"title": "Flux silencieux : Le Monde", "url": "https://www.lemonde.fr/rss/une.xml",
             "outlet": "Le Monde", "published": "", "rule": "feed-stale", "description": "",
             "priority": "normal", "terms": [],
             "excerpt": [("Aucun nouvel article depuis 48 h.", False)]}
    return {"match": SAMPLE, "follow-up": dict(followup), "stale-feed": stale}


def check(value: str, base: Path) -> str | None:
    """None when the template (text or file) compiles and renders a sample of every kind of
    alert, else why."""
    try:
        template = _strict.from_string(source_of(value, base))
        for kind, sample in samples().items():
            try:
                template.render(**_context(sample, "html"))
            except TemplateError as error:
                line = getattr(error, "lineno", None)
                return (f"template error{f' at line {line}' if line else ''} on a {kind} alert: "
                        f"{error.message or error}")
            except Exception as error:  # a template can raise anything (« terms[0] » on none)
                return f"template fails on a {kind} alert: {type(error).__name__}: {error}"
    except OSError as error:
        return f"cannot read the template: {error.strerror or error}"
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        return f"template error{f' at line {line}' if line else ''}: {error.message or error}"
    return None


def render(payload: Mapping[str, Any], fmt: str, source: str | None = None) -> str:
    """The body of one alert for a channel in format `fmt`."""
    return _lenient[fmt].from_string(source or MESSAGE[fmt]).render(**_context(payload, fmt)).strip()


def render_digest(payloads: Sequence[Mapping[str, Any]], fmt: str) -> tuple[str, str]:
    """(title, body) of one message gathering several alerts, grouped by rule."""
    groups: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        group = groups.setdefault(payload["rule"], {
            "rule": payload["rule"], "description": payload.get("description", ""), "alerts": []})
        group["alerts"].append(_context(payload, fmt))
    count = len(payloads)
    title = f"monitor : {count} alerte{'s' if count > 1 else ''}"
    body = _lenient[fmt].from_string(DIGEST[fmt]).render(rules=list(groups.values()), count=count)
    return title, body.strip()


def render_briefing(stories: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
                    fmt: str) -> tuple[str, str]:
    """(title, body) of a digest told story by story: each story (`title`, `articles`,
    `outlets`, `since`, `rules`: what the store knows of it) with the alerts it gathers."""
    sections = [{**story, "rules": list(dict.fromkeys(
                    [*story.get("rules", ()), *(p["rule"] for p in payloads)])),
                 "alerts": [_context(p, fmt) for p in payloads]} for story, payloads in stories]
    count = len(sections)
    title = f"monitor : {count} sujet{'s' if count > 1 else ''}"
    return title, _lenient[fmt].from_string(BRIEFING[fmt]).render(stories=sections).strip()


def _context(payload: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The payload as templates see it: `excerpt` ready for the format, `excerpt_text` plain."""
    segments = payload.get("excerpt") or []
    plain = "".join(text for text, _ in segments)
    if fmt == "html":
        excerpt: Any = Markup("").join(Markup("<strong>{}</strong>").format(text) if bold
                                       else escape(text) for text, bold in segments)
    elif fmt == "markdown":
        excerpt = "".join(f"**{text}**" if bold else text for text, bold in segments)
    else:
        excerpt = plain
    return {**payload, "excerpt": excerpt, "excerpt_text": plain}
