"""The daemon's process leaves the heavy libraries to the workers' fork server: each of them,
loaded in the daemon too, would cost its memory once more (24 MB for these four)."""

import subprocess
import sys

WORKERS_ONLY = ("numpy", "feedparser", "wordfreq", "trafilatura")

DAEMON_SIDE = """
import sys
import monitor.cli.main, monitor.daemon.daemon, monitor.runners.app  # what `monitor run` imports
from monitor.core.storyindex import StoryIndex
from monitor.store.items import _dump_fingerprint, _load_fingerprint
from monitor.core.dedup import Fingerprint

signature = bytes(range(256)) * 2
stored = [_load_fingerprint(_dump_fingerprint(Fingerprint(
    {"budget": 0.7, "senat": 0.7}, "ab" * 32, signature, 40, 1.7e9,
    top=("budget", "senat"), events=frozenset({"vote:budget"}))))]
index = StoryIndex.of(72 * 3600.0, [])
index.add(1, stored[0])
assert index.assign(stored[0]).story_id == 1  # compared: text, signature, words and events
print(",".join(name for name in {loaded!r} if name in sys.modules))
"""


def test_the_daemons_process_does_not_load_what_only_workers_use() -> None:
    script = DAEMON_SIDE.replace("{loaded!r}", repr(WORKERS_ONLY))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
