"""`monitor stories`: recent stories with their outlets; `--json` for every member article;
`monitor stories mute|unmute ID…`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from monitor.cli.alerts import times_in
from monitor.config.config import Config
from monitor.store.store import Store


def _iso(stamp: float | None, zone: ZoneInfo) -> str | None:
    return datetime.fromtimestamp(stamp, zone).isoformat() if stamp is not None else None


def mute(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    """Mutes or unmutes each story named; 1 when one of them does not exist."""
    muted, missing = args.stories_command == "mute", 0
    store = Store(config.database)
    try:
        for story_id in args.story:
            done = store.items.mute(story_id, time.time(), muted=muted)
            if done is None:
                print(f"story #{story_id}: no such story", file=sys.stderr)
                missing += 1
                continue
            merged = f" (merged into #{done.story_id})" if done.story_id != story_id else ""
            if muted:
                print(f"story #{done.story_id}{merged} muted: no more alerts for it; "
                      f"{done.alerts} alert(s) not yet sent muted with it", file=out)
            else:
                print(f"story #{done.story_id}{merged} unmuted: it alerts again from its next "
                      "article", file=out)
    finally:
        store.close()
    return 1 if missing else 0


def stories(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
    if getattr(args, "stories_command", None):
        return mute(args, config, out)
    zone = config.notify.zone
    store = Store(config.database)
    try:
        found = store.items.stories(time.time() - args.since)
    finally:
        store.close()
    if args.json:
        for story in found:
            story["first_seen"], story["last_seen"] = (_iso(story["first_seen"], zone),
                                                       _iso(story["last_seen"], zone))
            for article in story["articles"]:
                article["published"] = _iso(article["published"], zone)
        json.dump(found, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return 0
    for story in found:
        outlets = list(dict.fromkeys(a["outlet"] for a in story["articles"]))
        when = datetime.fromtimestamp(story["first_seen"], zone).strftime("%Y-%m-%d %H:%M")
        quiet = "  [muted]" if story["muted"] else ""
        print(f"#{story['id']:<6} {when}  {len(story['articles'])} article(s), "
              f"{len(outlets)} outlet(s)  {story['title'][:80]}{quiet}", file=out)
        print(f"{'':8}{', '.join(outlets)}", file=out)
    print(f"{len(found)} story(ies) since {args.since} ago; {times_in(config)}", file=out)
    return 0
