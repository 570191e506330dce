"""The events an article names: « sommet de l'IA », « meurtre de Louise », « procès de
l'attentat ». Pure.

A developing story is told under many headlines that share few words (the 109 billion euros,
the traffic jams, a chatbot launched « à l'occasion du sommet sur l'IA »), but most name the
event they belong to the same way: an event noun and what it is about. Two articles naming the
same event tell one story. On the labelled real week (bench/data/real_day.yaml) no threshold on
the words' similarity got past recall 0.22 at precision 0.93; with these keys it is 0.80 at
0.97 (bench/README.md has each step).

A key is the class of the event noun and the stem of the first telling word after it, past
prepositions, articles, counts and vague adjectives (« sommet international sur l'IA » →
`sommet:ia`), or a capitalised place on the way (« sommet de Paris » → `sommet:paris`). Nouns of
one kind share a class, so « meurtre de Louise » and « mort de Louise » name one event.
Headlines also name their story in a kicker, before the first colon or comma (« Super Bowl : »,
« Neige-verglas : »): a kicker of two words or more, one of them rare in French, is a key too
(`kicker:bowl sup`), and so is such a name after an event noun (« match du Super Bowl »); a
common one (« Intelligence artificielle : », « Guerre en Ukraine : ») names a subject followed
for months, not a story. Keys are properties of the article alone, so the stories they build do
not depend on the order of arrival.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from monitor.core import terms
from monitor.core.text import fold_word

# Folded event nouns (singular and plural) → their class.
_CLASSES = {
    "mort": "meurtre meurtres assassinat assassinats mort deces obseques disparition "
            "disparitions agression agressions viol viols homicide enlevement feminicide",
    "proces": "proces audience verdict condamnation condamnations inculpation",
    "attentat": "attentat attentats attaque attaques fusillade fusillades tuerie",
    "sommet": "sommet sommets conference forum g7 g20 cop",
    "meteo": "vigilance tempete tempetes intemperies inondations inondation crue crues "
             "canicule episode orages orage chute chutes",
    "accident": "accident accidents crash naufrage naufrages explosion explosions incendie "
                "incendies effondrement deraillement seisme eruption avalanche",
    "vote": "election elections scrutin referendum vote primaire motion motions censure "
            "investiture",
    "greve": "greve greves manifestation manifestations mobilisation blocage blocages",
    "match": "match matchs finale finales demi tournoi championnat",
    "liberation": "liberation liberations echange evasion",
    "visite": "visite visites voyage ceremonie",
}
EVENT_NOUNS = {noun: kind for kind, nouns in _CLASSES.items() for noun in nouns.split()}

# Words passed over on the way to what the event is about: prepositions, articles, counts, days,
# a warning's colour (« vigilance orange neige-verglas » is about the snow), adjectives that
# say nothing about which event (« sommet international sur l'IA ») and the kind of an election
# or of an assault, which says what it is, not which (« élection présidentielle en Pologne » is
# `vote:pologn`; keyed `vote:presidentiel`, Romania's and Poland's elections of one Sunday were
# one story, and `mort:sexuel` joined two unrelated abuse cases).
_PASSED = frozenset("""
de du des d sur pour a au aux contre la le les l en un une entre avec dans ce cet cette ces son
sa ses leur leurs selon apres avant lors depuis
international internationale internationaux mondial mondiale europeen europeenne national
nationale grand grande nouveau nouvelle nouvel nouveaux nouvelles premier premiere premiers
premieres dernier derniere derniers dernieres historique annuel annuelle extraordinaire action
deux trois quatre cinq six sept huit neuf dix plusieurs
lundi mardi mercredi jeudi vendredi samedi dimanche hier demain aujourd hui soir matin
rouge orange jaune verte
presidentiel presidentielle presidentielles legislatif legislative legislatives municipal
municipale municipales regional regionale regionales senatoriale senatoriales partielle
partielles anticipe anticipee anticipees
sexuel sexuelle sexuels sexuelles conjugal conjugale conjugales
""".split())
# An event noun in a phrase that names a format, not an event: every press conference is
# « conférence de presse » (`sommet:press` joined a school-threats story, a footballer's and
# a Kyiv briefing).
_FORMATS = frozenset({("conference", "de", "presse"), ("conferences", "de", "presse")})
# After a vague word, these lead on to the subject (« sommet de Paris sur l'IA »); not « a »,
# which is as often « avoir » (« le sommet de Paris a commencé »).
_PREPOSITIONS = frozenset("de du des d sur pour au aux contre en entre avec dans".split())
_CLAUSE = re.compile(r"[.:;!?,«»\"“”()\[\]—–|]+|\s-\s")  # a subject never lies past these
_REACH = 6  # words after the event noun within which its subject must come
_VAGUE = 5.3  # Zipf frequency from which a word is too common to name an event's subject
# (« gouvernement », 5.4: the censure of which government is the whole question)
_STEMMER = Stemmer.Stemmer("french")
_KICKER_WORDS = 6  # a longer text before the colon is a sentence, not a kicker
_KICKER_END = re.compile(r":|,\s")
_RARE_KICKER = 3.5  # the weight (`terms`) one of its words must reach: Zipf 3.5 or rarer



def event_keys(title: str, lead: str) -> frozenset[str]:
    """The keys of the events a headline and its lead name."""
    return _named_events(f"{title}. {lead}") | _kicker(title)


def _kicker(title: str) -> frozenset[str]:
    """The headline's kicker, before its first colon or comma (« Super Bowl : », « Super Bowl,
    des stars… »), as a key when it names something rare enough."""
    title = terms.headline(title)  # « PORTRAIT. Super Bowl : » is « Super Bowl : »
    end = _KICKER_END.search(title)
    if end is None:
        return frozenset()
    words = terms.words(title[:end.start()])
    return _name_key(words) if len(words) <= _KICKER_WORDS else frozenset()


def _name_key(words: list[str]) -> frozenset[str]:
    """`kicker:` key of two words or more, one of them rare in French; none for common ones."""
    found = [term for term in map(terms.term, words)  # « Super Bowl 2025 » is « Super Bowl »
             if term is not None and not term[0].isdigit()]
    if len(found) < 2 or max(weight for _, weight in found) < _RARE_KICKER:
        return frozenset()
    return frozenset({"kicker:" + " ".join(sorted({stem for stem, _ in found}))})


def _named_events(text: str) -> frozenset[str]:
    """`class:subject` keys of the events `text` names."""
    keys = set()
    for clause in _CLAUSE.split(text):
        raw = terms.words(clause)
        words = [fold_word(word) for word in raw]
        for position, word in enumerate(words):
            kind = EVENT_NOUNS.get(word)
            if kind is None or tuple(words[position:position + 3]) in _FORMATS:
                continue
            after = words[position + 1:position + 1 + _REACH]
            for index, subject in enumerate(after):
                if subject in _PASSED:
                    continue
                if subject in EVENT_NOUNS:
                    break
                if _telling(subject):
                    keys.add(f"{kind}:{_STEMMER.stemWord(subject)}")
                    keys |= _name_key(_capitalised(raw, position + 1 + index))
                    break
                if raw[position + 1 + index][:1].isupper():  # a place: « sommet de Paris »
                    keys.add(f"{kind}:{subject}")
                # a vague word then a preposition: « sommet de Paris sur l'IA » is about the IA
                if index + 1 == len(after) or after[index + 1] not in _PREPOSITIONS:
                    break
    return frozenset(keys)


def as_written(key: str, title: str, lead: str) -> str | None:
    """The words of the headline or lead that name the event `key`, as the article writes them
    (`mort:louis` → « Meurtre de Louise »): what a reader is shown, not the stems. Found by
    the key's noun class and subject alone (no word list: the daemon's process asks)."""
    kind, _, subject = key.partition(":")
    for clause in _CLAUSE.split(f"{title}. {lead}"):
        spans = terms.word_spans(clause)
        if kind == "kicker":  # the words of the name, from the first to the last
            named = set(subject.split())
            at = [i for i, (word, _, _) in enumerate(spans) if terms.stem(word) in named]
            if {terms.stem(spans[i][0]) for i in at} == named and at[-1] - at[0] < _KICKER_WORDS:
                return clause[spans[at[0]][1]:spans[at[-1]][2]]
            continue
        for position, (word, start, _) in enumerate(spans):
            if EVENT_NOUNS.get(fold_word(word)) != kind:
                continue
            for other, _, end in spans[position + 1:position + 1 + _REACH]:
                if subject in (_STEMMER.stemWord(fold_word(other)), fold_word(other)):
                    return clause[start:end]
    if kind == "kicker":  # the headline's kicker, across the quotes or brackets within it
        headline = terms.headline(title)
        end_of_kicker = _KICKER_END.search(headline)
        return headline[:end_of_kicker.start()].strip() if end_of_kicker else None
    return None


def _capitalised(raw: list[str], start: int) -> list[str]:
    """The capitalised words from `start` on: a name such as « Super Bowl » after « match du »,
    keyed like the kicker that names it."""
    name = []
    for word in raw[start:start + 3]:
        if not word[:1].isupper():
            break
        name.append(word)
    return name


@lru_cache(maxsize=8192)
def _telling(word: str) -> bool:
    """A word that can say which event: not a number (« épisode 3 » of every podcast), not
    too common."""
    import wordfreq  # here: the daemon's process never weighs words (15 MB it need not load)

    return len(word) > 1 and not word.isdigit() and \
        wordfreq.zipf_frequency(word, "fr", wordlist="small") < _VAGUE
