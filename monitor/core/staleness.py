"""Feeds gone silent: a feed with no new item for longer than its `stale_after` raises one
operational alert, and one more when it speaks again. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.core.alerts import payload_of
from monitor.core.models import Alert, FeedState


@dataclass(frozen=True, slots=True)
class Change:
    state: FeedState
    name: str
    stale: bool  # True: went silent; False: recovered
    silent_for: float


def changes(feeds: list[tuple[str, float | None, FeedState]], now: float) -> list[Change]:
    """(name, stale_after, state) of each feed → the feeds whose silence began or ended."""
    found = []
    for name, stale_after, state in feeds:
        reference = state.last_new_item or state.added_at
        if not stale_after or reference is None:
            continue
        silent_for = now - reference
        stale = silent_for > stale_after
        if stale != (state.stale_since is not None):
            found.append(Change(state, name, stale, silent_for))
    return found


def alerts(change: Change, channels: list[str], zone: ZoneInfo) -> list[Alert]:
    state = change.state
    hours = change.silent_for / 3600
    if change.stale:
        title = f"Flux silencieux : {change.name}"
        last = (datetime.fromtimestamp(state.last_new_item, zone).strftime("%d/%m/%Y %H:%M")
                if state.last_new_item else "jamais")
        text = f"Aucun nouvel article depuis {hours:.0f} h (dernier : {last})."
        if state.last_error:
            text += f" Dernière erreur : {state.last_error} ({state.failures} échec(s) de suite)."
    else:
        title = f"Flux rétabli : {change.name}"
        text = "De nouveaux articles arrivent de nouveau."
    rule = "feed-stale" if change.stale else "feed-recovered"
    payload = payload_of(title, url=state.fetch_url, outlet=change.name, published="",
                         rule=rule, excerpt=[(text, False)])
    return [Alert(rule, channel, title, payload) for channel in channels]
