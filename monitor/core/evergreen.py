"""Items of a feed that are not one story's news: dossier and topic pages, section indexes, live
pages, and bulletins that go over several stories. Pure.

A topic page (« Guerre Israël-Hamas », « Meurtre de Louise, 11 ans ») is republished with a fresh
date whenever its topic moves, and shares the words of every story of that topic: let it join
stories and it glues unrelated ones together. A live page is rewritten all day: what it says when
first seen is not what it will say. A bulletin (« JT du Sud du samedi 8 février », « LE POINT
DE MIDI - l'essentiel de l'actualité », a podcast listing its subjects) names several stories in
passing: on the labelled real day, two such items glued 37 pairs of unrelated articles into the
AI summit, and the weather of the day (« un ciel très nuageux ce samedi avec de la neige sur le
Massif central ») glued itself to the snow episode. All stay out of story clustering; a topic
page raises no alert either (it is not news), a live page or a bulletin does, as a story of its
own.

Told apart by the address and the headline, as outlets publish them: the path of a section, tag
or dossier, BFMTV's page codes (`_DN-` dossier, `_LN-` live), a slug that says so (« en-direct-… »),
« DIRECT » / « EN DIRECT » / « LIVE » / « 🔴 » in the headline.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

NEWS, DOSSIER, LIVE, BULLETIN = "news", "dossier", "live", "bulletin"

_DOSSIER_SEGMENTS = frozenset({
    "dossier", "dossiers", "tag", "tags", "theme", "themes", "thematique", "sujet", "sujets",
    "rubrique", "rubriques", "categorie", "category", "categories", "topic", "topics", "mot-cle",
    "mots-cles", "personnalite", "personnalites", "page-speciale",
})
_LIVE_SEGMENTS = frozenset({"live", "direct", "en-direct", "lives"})
_BFM_CODE = re.compile(r"_([A-Z]{2})-\d{6,}")  # BFMTV: _AN- article, _DN- dossier, _LN- live
# « 🔴 EN DIRECT. », « 🔴 Guerre en Ukraine : … »: the red dot is how outlets mark a live page
_LIVE_TITLE = re.compile(r"^\s*(?:🔴|(?:EN\s+)?(?:DIRECT|LIVE)\b|(?:VIDÉO|VIDEO)?\s*EN DIRECT\b)")
# A live page's slug: « /en-direct-election-presidence-lr-… », « /direct-guerre-en-ukraine-… »,
# « …-suivez-notre-direct-U2FB… », « …-live-pontifical-20250518 »
_LIVE_SLUG = re.compile(r"^(?:en-)?direct-|-en-direct-|suivez-notre-direct|-live-")
# A newscast, a round-up, or a podcast whose headline lists its subjects (« A, B et C »).
_BULLETIN = re.compile(
    r"^\s*(?:JT|(?:LE )?JOURNAL DE \d{1,2} ?H|LE POINT DE \w+|LE BRIEF|REVUE DE PRESSE|LA MATINALE)\b"
    r"|l[’']essentiel de l[’']actu|^\s*PODCAST\b[^,]*,[^,]*\bet\b", re.IGNORECASE)


# The weather of the day: a day in the headline, the sky or the temperatures in it or its lead.
_FORECAST_DAY = re.compile(r"\b(?:ce|cette) (?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
                           r"|week-end|matinée|après-midi|nuit)\b|\baujourd.hui\b|\bdemain\b",
                           re.IGNORECASE)
_SKY = re.compile(r"\b(?:nuages?|nuageux|ensoleill\w*|soleil|éclaircies|grisaille|températures?)\b"
                  r"|\d ?°C", re.IGNORECASE)


def kind(url: str | None, title: str, summary: str = "") -> str:
    """`news`, `dossier` (topic, tag or section page), `live` or `bulletin`."""
    if _LIVE_TITLE.search(title):
        return LIVE
    if _BULLETIN.search(title) or _BULLETIN.search(summary[:120]):
        return BULLETIN
    if _FORECAST_DAY.search(title) and (_SKY.search(title) or _SKY.search(summary[:200])):
        return BULLETIN
    if not url:
        return NEWS
    try:
        path = urlsplit(url).path
    except ValueError:
        return NEWS
    code = _BFM_CODE.search(path)
    if code:
        return {"DN": DOSSIER, "LN": LIVE}.get(code.group(1), NEWS)
    segments = [s for s in path.lower().split("/") if s]
    if any(s in _LIVE_SEGMENTS for s in segments[:-1]) or \
            (segments and _LIVE_SLUG.search(segments[-1])):
        return LIVE
    if any(s in _DOSSIER_SEGMENTS for s in segments[:-1]):
        return DOSSIER
    if not segments or path.endswith("/") and _section_index(segments):
        return DOSSIER
    return NEWS


def _section_index(segments: list[str]) -> bool:
    """A directory such as `/international/` or `/economie/emploi/`: at most two short segments,
    no digit. Articles' addresses carry a slug of their headline, an id or a file name."""
    if len(segments) > 2:
        return False
    last = segments[-1]
    return "." not in last and last.count("-") < 3 and \
        not any(c.isdigit() for segment in segments for c in segment)
