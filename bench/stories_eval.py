"""Story clustering measured on labelled sets, as the daemon assigns: one article at a time, in
order of arrival, through `StoryIndex` (merges included).

Sets:
- `ours`: bench/data/stories.yaml, written for this project (wire copies, rewrites, follow-ups,
  hard negatives; mostly full text);
- `real-day`: the 2025-02-10 capture of 68 French feeds (../shared/data/feeds), labelled in
  bench/data/real_day.yaml by URL; titles and summaries only, as the daemon saw that day;
- `held-out`: the 2024-01-18 capture of two feeds, labelled the same way in
  bench/data/held_out.yaml after the method was tuned, to check it does not only fit that day;
- `held-out-2`: one evening (2025-05-18) of 11 French outlets captured by a public repository
  (antoninfaure/rssTrends), labelled in bench/data/held_out_rsstrends_2025-05-18.yaml after the
  method was tuned (bench/data/LABELLING.md); its misses were studied and the method tuned on
  it on 2026-12-06, so it is a tuning set since;
- `held-out-3`: another evening of the same capture (2025-10-06), labelled by a session that
  never ran the method; scored after the 2026-12-06 changes, then used to choose among them (a
  tuning set since);
- `held-out-4`: a third evening (2026-01-14), labelled likewise, scored once the method of
  2026-12-06 was final, then its wrong clusters studied in the next session (a tuning set since);
- `held-out-5`: a fourth evening (2026-03-18), labelled likewise by a session that never ran the
  method, before 2026-01-14 was studied; scored once, then its wrong joins studied on
  2026-12-07 (a tuning set since);
- `held-out-6`: a fifth evening (2026-06-10), labelled likewise on 2026-12-07 by a session that
  never ran the method: held out. All five are read from that repository
  (`$MONITOR_RSSTRENDS`: its news.json, or a clone of it), checked by their sha256;
- `pages`: the French article pages of ../shared/data/articles, full text through our
  extraction, labelled in bench/data/real_pages.yaml by file name.

Scores: pairwise precision and recall (pairs put together that belong together; pairs that
belong together and were put together) and B-cubed F1 (per article: the share of its cluster that
is its story, and of its story that is its cluster), which weighs every article alike where
pairwise scores are dominated by the largest stories. Pairwise scores count confident pairs
only: an item whose membership the annotator marked `unsure` is in no pair (B-cubed counts it).
"""

from __future__ import annotations

import glob
import itertools
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not an installed copy

from monitor.core import (
    extract,
    feeds,  # noqa: E402
)
from monitor.core.dedup import fingerprint  # noqa: E402
from monitor.core.models import Article  # noqa: E402
from monitor.core.storyindex import StoryIndex  # noqa: E402

HERE = Path(__file__).parent
OURS = HERE / "data" / "stories.yaml"
REAL_DAY = HERE / "data" / "real_day.yaml"
REAL_PAGES = HERE / "data" / "real_pages.yaml"
HELD_OUT = HERE / "data" / "held_out.yaml"  # another day, never used to tune
HELD_OUT_2 = HERE / "data" / "held_out_rsstrends_2025-05-18.yaml"  # another capture: tuned on
HELD_OUT_3 = HERE / "data" / "held_out_rsstrends_2025-10-06.yaml"  # the same capture: tuned on
HELD_OUT_4 = HERE / "data" / "held_out_rsstrends_2026-01-14.yaml"  # studied: tuned on
HELD_OUT_5 = HERE / "data" / "held_out_rsstrends_2026-03-18.yaml"  # studied: tuned on
HELD_OUT_6 = HERE / "data" / "held_out_rsstrends_2026-06-10.yaml"  # never tuned on
RSSTRENDS_SETS = [("rsstrends 2025-05-18 (tuned on 2026-12-06)", HELD_OUT_2),
                  ("rsstrends 2025-10-06 (tuned on 2026-12-06)", HELD_OUT_3),
                  ("rsstrends 2026-01-14 (studied 2026-12-06)", HELD_OUT_4),
                  ("rsstrends 2026-03-18 (studied 2026-12-07)", HELD_OUT_5),
                  ("held out, rsstrends 2026-06-10", HELD_OUT_6)]
RSSTRENDS_CLONES = [Path("/work/.mirror/antoninfaure+rssTrends/repo")]  # where `fetch` puts it
SHARED = HERE.parent.parent / "shared" / "data"
PARIS = ZoneInfo("Europe/Paris")
WINDOW = 72 * 3600.0  # dedup.window's default


@dataclass(frozen=True)
class Labelled:
    group: str
    kind: str
    article: Article
    unsure: bool = False  # its membership is a judgement call: out of the pairwise scores


def load(path: Path = OURS) -> list[Labelled]:
    out = []
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
        texts: list[str] = []
        for spec in group["articles"]:
            text = spec.get("text", "")
            if "same_text_as" in spec:
                text = texts[spec["same_text_as"]]
                if spec.get("trim"):
                    sentences = text.split(". ")
                    text = ". ".join(sentences[:-spec["trim"]]) + "."
            texts.append(text)
            published = datetime.fromisoformat(spec["published"]).replace(tzinfo=PARIS)
            source = "feed" if spec.get("no_text") or not text else "page"
            article = Article(f"https://{spec['outlet']}/{group['id']}/{len(texts)}",
                              spec["title"], spec["summary"], text or spec["summary"],
                              published, spec["outlet"], source)
            out.append(Labelled(group["id"], group["kind"], article))
    return _by_time(out)


def load_real_day(labels: Path = REAL_DAY, shared: Path = SHARED) -> list[Labelled]:
    """The labelled items of the real day, completed from their feed alone (the pages could not
    be had), each known once (the same address in several feeds is one item)."""
    spec = yaml.safe_load(labels.read_text(encoding="utf-8"))
    story_of = {url: (story["id"], story["kind"]) for story in spec["stories"]
                for url in story["urls"]}
    out, seen = [], set()
    for path in sorted(glob.glob(str(shared / "feeds" / f"{spec['capture']}_*.xml"))):
        parsed = feeds.parse(Path(path).read_bytes(), "https://feeds.invalid/", {}, path)
        for entry in parsed.entries:
            if entry.link not in story_of or feeds.identity(entry.link) in seen:
                continue
            seen.add(feeds.identity(entry.link))
            outlet = urlsplit(entry.link).hostname or ""
            group, kind = story_of[entry.link]
            out.append(Labelled(group, kind, extract.extract(entry, None, outlet, ())))
    return _by_time(out)


def rsstrends_capture(labels: Path = HELD_OUT_2) -> bytes | None:
    """The bytes of the capture held_out_2 labels, checked, or None when it is not here:
    `$MONITOR_RSSTRENDS` names its news.json or a clone of the repository; else a copy in
    ../shared/data, else a clone where this machine's `fetch` puts it."""
    import hashlib
    import os
    import subprocess

    source = yaml.safe_load(labels.read_text(encoding="utf-8"))["source"]
    given = os.environ.get("MONITOR_RSSTRENDS")
    places = [*([Path(given)] if given else []), SHARED / source["local_copy"], *RSSTRENDS_CLONES]
    for place in places:
        if place.is_file():
            raw = place.read_bytes()
        elif place.is_dir():
            shown = subprocess.run(["git", "-C", str(place), "show",
                                    f"{source['commit']}:{source['path']}"], capture_output=True)
            if shown.returncode:
                continue
            raw = shown.stdout
        else:
            continue
        if hashlib.sha256(raw).hexdigest() == source["sha256"]:
            return raw
    return None


def load_rsstrends(labels: Path = HELD_OUT_2, raw: bytes | None = None) -> list[Labelled]:
    """The labelled items of the rsstrends capture (JSON of title, summary and link per item;
    no date, no guid), completed from their summary, each known once."""
    import json

    from monitor.core.models import Entry

    spec = yaml.safe_load(labels.read_text(encoding="utf-8"))
    raw = raw if raw is not None else rsstrends_capture(labels)
    if raw is None:
        raise FileNotFoundError("the rsstrends capture: set MONITOR_RSSTRENDS")
    story_of = {url: (story["id"], story["kind"]) for story in spec["stories"]
                for url in story["urls"]}
    unsure = {url for story in spec["stories"] for url in story.get("unsure", ())}
    feed_url = "https://github.com/{repository}/blob/{commit}/{path}".format(**spec["source"])
    entries, seen = {}, set()
    for item in json.loads(raw):
        link = feeds.canonical_url(item["link"] or "")
        if link not in story_of or feeds.identity(link) in seen:
            continue
        seen.add(feeds.identity(link))
        host = urlsplit(link).hostname or ""
        entries.setdefault(host, []).append(
            Entry(feed_url, link, link, item["title"] or "", item["summary"] or "", None, "fr"))
    out = []
    for host, listed in entries.items():  # each outlet's items as one feed (the capture's own)
        for entry in feeds.without_furniture(listed)[0]:
            group, kind = story_of[entry.link or ""]
            out.append(Labelled(group, kind, extract.extract(entry, None, host, ()),
                                entry.link in unsure))
    return _by_time(out)


def load_real_pages(labels: Path = REAL_PAGES, shared: Path = SHARED) -> list[Labelled]:
    """The labelled French pages, extracted as the daemon would (title, date and text from the
    page; no feed summary)."""
    from monitor.core.models import Entry

    out = []
    for story in yaml.safe_load(labels.read_text(encoding="utf-8"))["stories"]:
        for name in story["files"]:
            html = (shared / "articles" / name).read_bytes()
            url = f"https://pages.invalid/{name}"
            entry = Entry("https://feeds.invalid/", url, url, "", "", None, "fr")
            article = extract.extract(entry, html, name.split("-")[0].split(".")[0], ())
            out.append(Labelled(story["id"], story.get("kind", ""), article))
    return _by_time(out)


def _by_time(items: list[Labelled]) -> list[Labelled]:
    return sorted(items, key=lambda item: (_at(item.article), item.article.url or ""))


def _at(article: Article) -> float:
    return article.published.timestamp() if article.published else 0.0


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    bcubed_f1: float
    stories: int  # clusters found
    false_joins: list[tuple[str, str]]
    missed: list[tuple[str, str]]
    partition: frozenset[frozenset[int]]  # the stories found, as sets of item numbers


def cluster(items: Sequence[Labelled], window: float = WINDOW) -> list[int]:
    """The story of each item, assigned one by one in the order given, as the pipeline does.
    They all arrive now: the index forgets by time of arrival, and a week of items arriving at
    once forgets nothing."""
    index = StoryIndex(window)
    assigned: list[int] = []
    for number, item in enumerate(items):
        fp = fingerprint(item.article, _at(item.article))
        assignment = index.assign(fp)
        story = assignment.story_id if assignment.story_id is not None else number
        index.merge(story, assignment.merged)
        index.add(story, fp, now=0.0)
        assigned.append(story)
    return [index.story(story) for story in assigned]


def evaluate(items: Sequence[Labelled], window: float = WINDOW,
             order: Sequence[int] | None = None) -> Score:
    """Scores of the clustering of `items`, arriving in `order` (default: as given)."""
    order = list(order) if order is not None else list(range(len(items)))
    found = dict(zip(order, cluster([items[i] for i in order], window), strict=True))
    labels = [item.group for item in items]
    clusters = [found[i] for i in range(len(items))]
    joined = together = both = 0
    false_joins, missed = [], []
    for a, b in itertools.combinations(range(len(items)), 2):
        if items[a].unsure or items[b].unsure:
            continue  # pairwise scores count confident pairs only; B-cubed counts every row
        same_label = labels[a] == labels[b]
        same_cluster = clusters[a] == clusters[b]
        joined += same_cluster
        together += same_label
        both += same_label and same_cluster
        pair = (items[a].article.title, items[b].article.title)
        if same_cluster and not same_label:
            false_joins.append(pair)
        if same_label and not same_cluster:
            missed.append(pair)
    groups: dict[int, set[int]] = {}
    for number, found_in in enumerate(clusters):
        groups.setdefault(found_in, set()).add(number)
    return Score(both / joined if joined else 1.0, both / together if together else 1.0,
                 bcubed_f1(labels, clusters), len(groups), false_joins, missed,
                 frozenset(frozenset(group) for group in groups.values()))


def bcubed_f1(labels: Sequence[str], clusters: Sequence[int]) -> float:
    by_label: dict[str, set[int]] = {}
    by_cluster: dict[int, set[int]] = {}
    for i, (label, found) in enumerate(zip(labels, clusters, strict=True)):
        by_label.setdefault(label, set()).add(i)
        by_cluster.setdefault(found, set()).add(i)
    precision = recall = 0.0
    for i in range(len(labels)):
        mine, truth = by_cluster[clusters[i]], by_label[labels[i]]
        shared = len(mine & truth)
        precision += shared / len(mine)
        recall += shared / len(truth)
    precision, recall = precision / len(labels), recall / len(labels)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def shuffled_orders(count: int, runs: int, seed: int = 1) -> list[list[int]]:
    rng = random.Random(seed)
    orders = []
    for _ in range(runs):
        order = list(range(count))
        rng.shuffle(order)
        orders.append(order)
    return orders
