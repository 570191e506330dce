"""Story clustering measured on the labelled set in bench/data/stories.yaml.

Articles are assigned one by one in order of publication, as the daemon does, and the clusters
compared to the labels: pairwise precision (pairs put together that belong together) and recall
(pairs that belong together and were put together).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from monitor.dedup import StoryIndex, fingerprint
from monitor.models import Article

DATA = Path(__file__).parent / "data" / "stories.yaml"
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Labelled:
    group: str
    kind: str
    article: Article


def load(path: Path = DATA) -> list[Labelled]:
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
    return sorted(out, key=lambda item: item.article.published)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    false_joins: list[tuple[str, str]]
    missed: list[tuple[str, str]]


def evaluate(items: list[Labelled], window: float = 72 * 3600) -> Score:
    index = StoryIndex(window)
    cluster: dict[int, int] = {}
    for number, item in enumerate(items):
        fp = fingerprint(item.article, item.article.published.timestamp())
        assignment = index.assign(fp)
        story = assignment.story_id if assignment.story_id is not None else -(number + 1)
        index.add(story, fp, seed=assignment.story_id is None)
        cluster[number] = story
    joined = together = both = 0
    false_joins, missed = [], []
    for a, b in itertools.combinations(range(len(items)), 2):
        same_label = items[a].group == items[b].group
        same_cluster = cluster[a] == cluster[b]
        joined += same_cluster
        together += same_label
        both += same_label and same_cluster
        pair = (items[a].article.title, items[b].article.title)
        if same_cluster and not same_label:
            false_joins.append(pair)
        if same_label and not same_cluster:
            missed.append(pair)
    return Score(both / joined if joined else 1.0, both / together if together else 1.0,
                 false_joins, missed)
