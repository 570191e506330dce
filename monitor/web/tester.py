"""The console's rule tester: which rules match a pasted text or a page, with every term found
marked in place, and the same rules run over the stored history in the background.

Rules written in the page are compiled like a rule file (same errors, file:line) but never
written anywhere the daemon reads: the YAML files stay the source of truth. User regexes run
under `matching.REGEX_TIME_LIMIT`; pages are fetched by the daemon's guarded client.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.config.config import CONSOLE, Config
from monitor.core import entities, rulefiles
from monitor.core.errors import InvalidInput, Problem
from monitor.core.extract import article_from_html
from monitor.core.models import Article, Hit
from monitor.core.rules import RuleSet
from monitor.net.http import HttpClient
from monitor.runners import app
from monitor.runners import backtest as backtest_module
from monitor.store.store import Store
from monitor.web.views import iso

PAGE_RULES = "règle du testeur"
FIELD_LABELS = {"title": "Titre", "summary": "Résumé", "text": "Texte"}
MAX_JOBS = 20  # finished backtests kept for their pages, the oldest forgotten first


MAX_PAGE_RULES = 256 * 1024  # rules written in the page (a whole rule file is a few KB)


def chosen_rules(running: RuleSet, names: Sequence[str], page_yaml: str,
                 config: Config) -> RuleSet:
    """The running rules named, plus those written in the page. Raises InvalidInput."""
    picked = [rule for rule in running.rules if rule.name in set(names)]
    if len(page_yaml.encode()) > MAX_PAGE_RULES:
        raise InvalidInput([Problem(PAGE_RULES, None, "", f"too large: at most "
                                    f"{MAX_PAGE_RULES // 1024} KB of rules in the page")])
    if page_yaml.strip():
        with tempfile.TemporaryDirectory(prefix="monitor-tester-") as folder:
            path = Path(folder) / "testeur.yaml"
            path.write_text(page_yaml, encoding="utf-8")
            try:
                written = rulefiles.load([path], [CONSOLE, *config.notify.channels],
                                         config.notify.default)
            except InvalidInput as error:
                raise InvalidInput([replace(problem, file=PAGE_RULES)
                                    for problem in error.problems]) from None
        picked = [rule for rule in picked if rule.name not in {r.name for r in written.rules}]
        picked += [replace(rule, origin=rule.origin.replace(str(path), PAGE_RULES))
                   for rule in written.rules]
    if not picked:
        raise InvalidInput([Problem(PAGE_RULES, None, "", "choisissez au moins une règle, ou "
                                    "écrivez-en une")])
    return RuleSet(picked)


async def article_for(config: Config, *, title: str, text: str, url: str) -> Article:
    """The pasted text, or the page at `url` as the daemon would extract it."""
    if not url.strip():
        return Article(None, title.strip(), "", text, None, "(texte collé)", "page")
    client = HttpClient(app.http_limits(config.network))
    try:
        body = (await client.get(url.strip(), max_size=config.network.max_page_size)).body
    finally:
        await client.close()
    return article_from_html(body, url.strip())


def evaluate(rules: RuleSet, article: Article) -> dict[str, Any]:
    """Match (entities recognised when a rule needs them) and explain; CPU-bound: run it in a
    thread."""
    scan = rules.scan(article)
    needed = rules.entity_fields(scan)
    labels = entities.recognise({name: scan.texts[name] for name in needed}) if needed else None
    matches = rules.evaluate(scan, labels)
    hits = [hit for match in matches for hit in match.hits]
    texts = {"title": article.title, "summary": article.summary, "text": article.text}
    origins = {rule.name: rule.origin for rule in rules.rules}
    return {
        "article": {"title": article.title, "url": article.url, "source": article.source},
        "rules": [rule.name for rule in rules.rules],
        "matches": [{"rule": match.rule, "origin": origins[match.rule],
                     "hits": [{"term": hit.term, "field": hit.field, "start": hit.start,
                               "end": hit.end, "found": texts[hit.field][hit.start:hit.end]}
                              for hit in match.hits]} for match in matches],
        "fields": [{"name": name, "label": FIELD_LABELS[name],
                    "segments": segments(texts[name], [h for h in hits if h.field == name])}
                   for name in FIELD_LABELS if texts[name]],
        "timeouts": list(scan.timeouts)}


def segments(text: str, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """`text` cut into plain and found parts; overlapping hits make one marked part naming every
    term found there."""
    spans = sorted((hit.start, hit.end, hit.term) for hit in hits)
    merged: list[list[Any]] = []
    for start, end, term in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if term not in merged[-1][2]:
                merged[-1][2].append(term)
        else:
            merged.append([start, end, [term]])
    out, position = [], 0
    for start, end, terms in merged:
        if start > position:
            out.append({"text": text[position:start], "terms": []})
        out.append({"text": text[start:end], "terms": terms})
        position = end
    if position < len(text):
        out.append({"text": text[position:], "terms": []})
    return out


@dataclass
class _Job:
    rules: list[str]
    since: str
    started: float
    done: int = 0
    total: int = 0
    finished: float | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


class Backtests:
    """Backtests running in a thread each (with a connection of their own), one at a time: the
    console polls their progress."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def running(self) -> bool:
        return any(job.finished is None for job in self._jobs.values())

    def start(self, config: Config, rules: RuleSet, since: float, label: str) -> str:
        with self._lock:
            if self.running():
                raise RuntimeError("un test sur l'historique est déjà en cours")
            for old in sorted(self._jobs, key=lambda key: self._jobs[key].started)[:-MAX_JOBS]:
                del self._jobs[old]
            job_id = secrets.token_urlsafe(8)
            job = self._jobs[job_id] = _Job([rule.name for rule in rules.rules], label,
                                            time.time())
        tags = {feed.url: tuple(feed.tags) for feed in config.feeds}
        threading.Thread(target=self._run, args=(job, config, rules, since, tags),
                         name=f"backtest-{job_id}", daemon=True).start()
        return job_id

    def status(self, job_id: str) -> dict[str, Any] | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        return {"id": job_id, "rules": job.rules, "since": job.since, "done": job.done,
                "total": job.total, "finished": job.finished is not None, "error": job.error,
                **job.result}

    @staticmethod
    def _run(job: _Job, config: Config, rules: RuleSet, since: float,
             tags: Mapping[str, tuple[str, ...]]) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            store = Store(config.database)
            try:
                found = backtest_module.run(store, rules, since, tags, progress)
                story_rules: dict[int, list[str]] = {}
                for rule in rules.rules:
                    for story_id in found.stories[rule.name]:
                        story_rules.setdefault(story_id, []).append(rule.name)
                stories = store.console.stories_by_id(sorted(story_rules, reverse=True)[:500])
            finally:
                store.close()
            zone = config.notify.zone
            stories.sort(key=lambda story: -story.last_seen)
            job.result = {
                "articles": found.total,
                "per_rule": [{"rule": rule.name, "articles": found.articles[rule.name],
                              "stories": len(found.stories[rule.name])} for rule in rules.rules],
                "stories": [{"id": story.id, "title": story.title,
                             "first_seen": iso(story.first_seen, zone),
                             "outlets": list(story.outlets), "rules": story_rules[story.id]}
                            for story in stories[:200]]}
        except Exception as error:  # shown on the page; the daemon goes on
            job.error = f"{type(error).__name__}: {error}"
        finally:
            job.finished = time.time()
