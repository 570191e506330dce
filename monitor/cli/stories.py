"""`monitor stories`: recent stories with their outlets; `--json` for every member article."""

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


def stories(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout) -> int:
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
        print(f"#{story['id']:<6} {when}  {len(story['articles'])} article(s), "
              f"{len(outlets)} outlet(s)  {story['title'][:80]}", file=out)
        print(f"{'':8}{', '.join(outlets)}", file=out)
    print(f"{len(found)} story(ies) since {args.since} ago; {times_in(config)}", file=out)
    return 0
