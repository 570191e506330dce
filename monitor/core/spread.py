"""When a story spreads: it is carried by N distinct outlets within H hours. A rule asks for it
with `spread: {outlets: 3, within: 2h}` (the stories it matches), `notify.trending` for any
story. One "spreading" alert per story, channel and watch: the outbox's unique key (a follow-up
whose subject is `spread:<watch>`) keeps it to one however many articles follow. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.core.alerts import payload_of
from monitor.core.models import Alert, Priority

TRENDING = "trending"  # the watch of `notify.trending`, which no rule owns
# second-level labels under which a country's registrable names live (bbc.co.uk, not co.uk)
_SHARED_SLD = {"co", "com", "net", "org", "gouv", "gov", "ac", "edu", "asso", "nom"}
SUBJECT = "spread:"  # + the watch's name: the alert's subject in the outbox


@dataclass(frozen=True, slots=True)
class Spread:
    outlets: int  # distinct outlets, at least 2
    within: float  # seconds


@dataclass(frozen=True, slots=True)
class Watch:
    """Who wants to know when which stories spread: a rule's (the stories it matched) or
    `notify.trending`'s (every story)."""

    name: str  # the rule's, or TRENDING
    spread: Spread
    channels: tuple[str, ...]
    priority: Priority = "normal"


@dataclass(frozen=True, slots=True)
class Member:
    """One article of a story, as the spread of the story sees it."""

    outlet: str
    site: str  # its publisher, as `site` names it from its address: what is counted
    at: float  # when it was published (when it was seen, for a date unknown or to come)
    rules: tuple[str, ...] = ()  # the rules it matched


def site(url: str | None) -> str:
    """The publisher of an address: its registrable domain (rmc.bfmtv.com and www.bfmtv.com
    are bfmtv.com; bbc.co.uk stays whole), an IP address as it is. Three feeds of one
    newspaper's sections are one outlet spreading nothing."""
    host = (urlsplit(url or "").hostname or "").rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SHARED_SLD else 2
    return ".".join(labels[-keep:])


def outlets_within(members: Iterable[Member], spread: Spread) -> tuple[str, ...]:
    """The outlets (one per site) that carried the story within `spread.within` up to its
    latest article, in the order of their first article there; enough of them means it is
    spreading now (a story that spread long ago and gets one more article is not announced
    again as news)."""
    ordered = sorted(members, key=lambda member: member.at)
    if not ordered:
        return ()
    since = ordered[-1].at - spread.within
    first: dict[str, str] = {}
    for member in ordered:
        if member.at >= since:
            first.setdefault(member.site or member.outlet, member.outlet)
    return tuple(first.values())


def spreading(members: Sequence[Member], watches: Iterable[Watch]) -> list[tuple[Watch, tuple[str, ...]]]:
    """The watches that see this story spreading now, each with its outlets: a rule's watch
    when one of the story's articles matched the rule."""
    matched = {rule for member in members for rule in member.rules}
    found = []
    for watch in watches:
        if watch.name != TRENDING and watch.name not in matched:
            continue
        outlets = outlets_within(members, watch.spread)
        if len(outlets) >= watch.spread.outlets:
            found.append((watch, outlets))
    return found


def alerts(headline: str, url: str | None, members: Sequence[Member],
           watches: Iterable[Watch]) -> list[Alert]:
    """The "this story is spreading" alerts of a story that just got an article, one per watch
    that sees it spreading and channel; sent at once (not held for a digest)."""
    out = []
    for watch, outlets in spreading(members, watches):
        hours = watch.spread.within / 3600
        span = f"{hours:g} h" if hours >= 1 else f"{watch.spread.within / 60:g} min"
        title = f"Sujet qui s’étend ({len(outlets)} médias en {span}) : {headline}"
        payload = payload_of(title, url=url, outlet=", ".join(outlets), published="",
                             rule=watch.name, priority=watch.priority,
                             excerpt=[(f"Repris par {', '.join(outlets)}.", False)])
        out += [Alert(watch.name, channel, title, payload, watch.priority, kind="followup",
                      subject=SUBJECT + watch.name) for channel in watch.channels]
    return out
