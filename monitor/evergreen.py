"""Items of a feed that are not news: dossier and topic pages, section indexes, live pages. Pure.

A topic page (« Guerre Israël-Hamas », « Meurtre de Louise, 11 ans ») is republished with a fresh
date whenever its topic moves, and shares the words of every story of that topic: let it join
stories and it glues unrelated ones together. A live page is rewritten all day: what it says when
first seen is not what it will say. Both stay out of story clustering; a topic page raises no
alert either (it is not news), a live page does, as a story of its own.

Told apart by the address and the headline, as outlets publish them: the path of a section, tag
or dossier, BFMTV's page codes (`_DN-` dossier, `_LN-` live), « DIRECT » / « EN DIRECT » / « LIVE ».
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

NEWS, DOSSIER, LIVE = "news", "dossier", "live"

_DOSSIER_SEGMENTS = frozenset({
    "dossier", "dossiers", "tag", "tags", "theme", "themes", "thematique", "sujet", "sujets",
    "rubrique", "rubriques", "categorie", "category", "categories", "topic", "topics", "mot-cle",
    "mots-cles", "personnalite", "personnalites", "page-speciale",
})
_LIVE_SEGMENTS = frozenset({"live", "direct", "en-direct", "lives"})
_BFM_CODE = re.compile(r"_([A-Z]{2})-\d{6,}")  # BFMTV: _AN- article, _DN- dossier, _LN- live
_LIVE_TITLE = re.compile(r"^\s*(?:EN\s+)?(?:DIRECT|LIVE)\b|^\s*(?:VIDÉO|VIDEO)?\s*EN DIRECT\b")


def kind(url: str | None, title: str) -> str:
    """`news`, `dossier` (topic, tag or section page) or `live`."""
    if _LIVE_TITLE.search(title):
        return LIVE
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
    if any(s in _LIVE_SEGMENTS for s in segments[:-1]):
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
