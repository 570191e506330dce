"""Extraction: speed and quality of monitor's use of trafilatura against trafilatura's defaults.

    python bench/extraction.py

On the French pages of `../shared/data/articles/` that have gold files (it needs them; the
project's fixtures have none): the share of gold segments handled right (`.expected.json`:
segments that must be in the text, and boilerplate that must not) and a word-level F1 against
full gold texts (`.expected.txt`); pages/s on one core. Baseline: `bare_extraction` with its
fallbacks always run and its extensive date search (what `trafilatura.extract` does).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARTICLES = ROOT.parent / "shared" / "data" / "articles"


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def evaluate(extract: Callable[[bytes, str | None], str], pages: list[Path]) -> tuple[float, ...]:
    """(pages/s, segments right, segments, mean F1 over pages with a gold text)."""
    right = segments = 0
    scores, seconds = [], 0.0
    for page in pages:
        html = page.read_bytes()
        started = time.perf_counter()
        text = extract(html, None)
        seconds += time.perf_counter() - started
        stem = page.name.removesuffix(".html")
        gold = page.parent / f"{stem}.expected.json"
        if gold.exists() and "with" in (expected := json.loads(gold.read_text())):
            for segment in expected["with"]:
                segments, right = segments + 1, right + (segment in text)
            for segment in expected.get("without", []):
                segments, right = segments + 1, right + (segment not in text)
        full = page.parent / f"{stem}.expected.txt"
        if full.exists():
            want, got = _words(full.read_text()), _words(text)
            common = sum((Counter(want) & Counter(got)).values())
            scores.append(2 * common / (len(want) + len(got)) if want and got else 0.0)
    return len(pages) / seconds, right, segments, sum(scores) / max(1, len(scores))


def main() -> None:
    pages = [p for p in sorted(ARTICLES.glob("fr*.html")) if ".expected" not in p.name]  # not gold files
    if not pages:
        print("extraction: needs the gold files of ../shared/data/articles (absent): skipped")
        return
    import trafilatura

    from monitor.core import extract

    def defaults(html: bytes, url: str | None) -> str:  # with metadata, as monitor was
        document = trafilatura.bare_extraction(html, url=url, include_comments=False,
                                               include_tables=False, with_metadata=True)
        return (document.text or "") if document else ""

    def ours(html: bytes, url: str | None) -> str:
        page = extract._extract(html, url)
        return page.text if page else ""

    defaults(pages[0].read_bytes(), None)  # imports and caches warmed
    print(f"extraction: {len(pages)} French pages of ../shared/data/articles, one core")
    rows = [("trafilatura, fallbacks always", evaluate(defaults, pages)),
            ("monitor (fast, precision, fallbacks if < 1,000 chars)", evaluate(ours, pages))]
    base = rows[0][1][0]
    for label, (rate, right, segments, f1) in rows:
        print(f"  {label:<54}{rate:6.1f} pages/s  ×{rate / base:.2f}  segments right "
              f"{right}/{segments} ({right / segments:.3f})  text F1 {f1:.3f}")


if __name__ == "__main__":
    main()
