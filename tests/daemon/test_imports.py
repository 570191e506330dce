"""The daemon's process leaves the heavy libraries to the workers' fork server: each of them,
loaded in the daemon too, would cost its memory once more (24 MB for these four)."""

import subprocess
import sys

WORKERS_ONLY = ("numpy", "feedparser", "wordfreq", "trafilatura")

DAEMON_SIDE = """
import sys, tempfile
from datetime import UTC, datetime
from pathlib import Path
import monitor.cli.main, monitor.daemon.daemon, monitor.runners.app  # what `monitor run` imports
from monitor.core.dedup import Fingerprint
from monitor.core.models import Article, Entry, StoryAssignment
from monitor.store.store import Store

signature = bytes(range(256)) * 2
fp = Fingerprint({"budget": 0.7, "senat": 0.7}, "ab" * 32, signature, 40, 1.7e9,
                 top=("budget", "senat"), events=frozenset({"vote:budget"}))
store = Store(Path(tempfile.mkdtemp()) / "monitor.db")
store.feeds.sync([("https://a.fr/rss", "A", True)], 0.0)
store.feeds.record_success("https://a.fr/rss", now=1.0, next_check=2.0, etag=None,
                           last_modified=None, body_hash="h", entries=[Entry(
                               "https://a.fr/rss", None, "https://a.fr/1", "Budget", "s",
                               datetime(2025, 2, 8, tzinfo=UTC))])
(item,) = store.items.pending()
story, _ = store.items.complete(item.id, now=1.7e9, article=Article(
    "https://a.fr/1", "Budget", "s", "s", None, "A", "feed"), fingerprint=fp,
    assignment=StoryAssignment(None, "new"), matched=[], alerts=[])
# read back from the database and compared: text, signature, words and events
assert store.stories.assign(fp, 1.7e9, 72 * 3600.0).story_id == story
print(",".join(name for name in {loaded!r} if name in sys.modules))
"""


def test_the_daemons_process_does_not_load_what_only_workers_use() -> None:
    script = DAEMON_SIDE.replace("{loaded!r}", repr(WORKERS_ONLY))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
