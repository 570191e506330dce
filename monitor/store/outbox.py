"""The alert outbox's queries: what is due, what was sent, what failed, what waits for a
digest: the dispatch runner's role (`OutboxStorage`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from monitor.core.models import Alert, AlertPayload, QueuedAlert
from monitor.store.database import Database
from monitor.store.leases import FENCE, Leases

STATES = ("pending", "held", "failed", "sent", "dead", "muted")
# why an alert is dead when its story was muted before it was sent (shown as state `muted`; a
# bulk requeue leaves it: `monitor alerts retry ID` can still send it)
MUTED = "muted: its story was muted before this alert was sent"
# an alert no instance holds at `now` (one parameter), for a change made outside its sending
_FREE = " AND status = 'pending' AND coalesce(lease_until, 0) <= ?"


def state_sql(alias: str = "") -> str:
    """An alert's state as every surface names it (`monitor once`, `alerts`, the console): what
    happens to it next, from what is stored. One placeholder: now.
    - pending: due: it goes out at the next delivery pass;
    - held: never tried, waiting for its time (a digest, quiet hours, a rate window, a
      follow-up's delay);
    - failed: a try failed; waiting to be tried again;
    - sent, dead: as stored;
    - muted: dead because its story was muted before it went out (`MUTED`)."""
    a = f"{alias}." if alias else ""
    return (f"CASE WHEN {a}last_error = '{MUTED}' AND {a}status = 'dead' THEN 'muted' "
            f"WHEN {a}status != 'pending' THEN {a}status "
            f"WHEN {a}next_attempt <= ? THEN 'pending' "
            f"WHEN {a}attempts > 0 THEN 'failed' ELSE 'held' END")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An alert as `monitor alerts` lists it."""

    id: int
    state: str  # one of STATES
    channel: str
    rule: str
    title: str
    attempts: int
    created_at: float
    next_attempt: float
    delivered_at: float | None
    last_error: str | None


class Outbox:
    """The queries of the alert outbox, over one database."""

    def __init__(self, db: Database, leases: Leases) -> None:
        self._db = db
        self._leases = leases

    def depth(self) -> int:
        depth: int = self._db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'pending'"
                                      ).fetchone()[0]
        return depth

    def held(self, now: float) -> list[tuple[str, int, float]]:
        """(channel, alerts, when the first goes out) of the alerts waiting for a digest, the
        end of quiet hours or a rate window (not those waiting to be retried)."""
        return [(row[0], row[1], row[2]) for row in self._db.execute(
            "SELECT channel, COUNT(*), min(next_attempt) FROM alerts WHERE status = 'pending' "
            "AND attempts = 0 AND next_attempt > ? GROUP BY channel ORDER BY channel", (now,))]

    def due(self, now: float, limit: int = 1000,
                   lease: float | None = None) -> list[QueuedAlert]:
        """Pending alerts whose time has come, oldest first; with `lease`, claimed for that
        long (none another instance holds). An alert whose stored payload no longer decodes
        (a failing disk, an older writer) is dead-lettered alone, not left to fail every pass."""
        ids = self._leases.claim("alerts", "status = 'pending' AND next_attempt <= ?", (now,),
                          "next_attempt, id", limit, now, lease)
        if not ids:
            return []
        try:
            claimed, params = self._db.any_of("id", ids, "bigint")
            rows = self._db.execute(f"SELECT * FROM alerts WHERE {claimed} "
                                    "ORDER BY next_attempt, id", params).fetchall()
        except BaseException:  # claimed, yet the caller never learns which: not renewed
            self._leases.settle("alerts", ids)
            raise
        due: list[QueuedAlert] = []
        broken: list[tuple[int, str]] = []
        for row in rows:
            try:
                payload = json.loads(row["payload"])
                if not isinstance(payload, dict):
                    raise ValueError(f"a JSON {type(payload).__name__}, not an object")
            except ValueError as undecodable:
                broken.append((row["id"], f"payload does not decode: {undecodable}"))
                continue
            due.append(QueuedAlert(row["id"], row["channel"], row["rule"], row["priority"],
                                   row["title"], cast(AlertPayload, payload), bool(row["batch"]),
                                   row["attempts"],
                                   row["expires_at"], row["story_id"] or 0))
        for alert_id, error in broken:
            self.mark_failed([alert_id], error=error, retry_at=None)
            self._leases.settle("alerts", [alert_id])
        return due

    def merged_headlines(self) -> list[tuple[int, int | None, AlertPayload]]:
        """(id, item, payload) of pending headlines whose story has become one (by a merge) with
        a story that already has a headline, queued or sent, on the same channel."""
        rows = self._db.execute(
            "SELECT a.id, a.item_id, a.payload FROM alerts a JOIN stories s ON s.id = a.story_id "
            "WHERE a.status = 'pending' AND a.kind = 'alert' AND EXISTS (SELECT 1 FROM alerts b "
            "JOIN stories t ON t.id = b.story_id WHERE b.kind = 'alert' AND b.id < a.id "
            "AND b.channel = a.channel AND b.status IN ('pending', 'sent') "
            "AND coalesce(t.merged_into, t.id) = coalesce(s.merged_into, s.id))").fetchall()
        return [(row[0], row[1], json.loads(row[2])) for row in rows]

    def demote(self, alert_id: int, item_id: int | None, title: str, payload: AlertPayload,
               hold_until: float | None, now: float) -> None:
        """A queued headline becomes a follow-up (held for the digest until `hold_until`);
        not one an instance is sending at this moment (`_FREE`)."""
        self._db.execute(
            "UPDATE alerts SET kind = 'followup', subject = ?, title = ?, payload = ?, batch = ?, "
            "next_attempt = greatest(next_attempt, coalesce(?, 0)) WHERE id = ?" + _FREE,
            (str(item_id or alert_id), title, json.dumps(payload, ensure_ascii=False),
             hold_until is not None, hold_until, alert_id, now))

    def drop(self, alert_id: int, now: float) -> None:
        """A queued alert that will never be wanted (a demoted headline, follow-ups off)."""
        self._db.execute("DELETE FROM alerts WHERE id = ?" + _FREE, (alert_id, now))

    def delivered(self, ids: Sequence[int]) -> dict[int, set[str]]:
        """alert id → the targets that already have it."""
        found: dict[int, set[str]] = {alert_id: set() for alert_id in ids}
        marks = ",".join("?" * len(ids))
        for alert_id, target in self._db.execute(
                f"SELECT alert_id, target FROM deliveries WHERE alert_id IN ({marks})", list(ids)):
            found[alert_id].add(target)
        return found

    def record_delivery(self, ids: Sequence[int], target: str, now: float) -> None:
        with self._db.transaction() as db:
            db.executemany("INSERT INTO deliveries (alert_id, target, delivered_at) "
                           "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [(alert_id, target, now) for alert_id in ids])

    def mark_sent(self, ids: Sequence[int], now: float) -> None:
        """(As `mark_failed` and `hold`: only the alerts this process still holds, see FENCE.)"""
        with self._db.transaction() as db:
            db.executemany("UPDATE alerts SET status = 'sent', attempts = attempts + 1, "
                           "delivered_at = ?, last_error = NULL, lease_until = NULL "
                           "WHERE id = ? AND status = 'pending'" + FENCE,
                           [(now, alert_id, self._token(alert_id)) for alert_id in ids])

    def mark_failed(self, ids: Sequence[int], *, error: str, retry_at: float | None) -> None:
        """A failed send: retried at `retry_at`, or dead-lettered when that is None."""
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE alerts SET attempts = attempts + 1, last_error = ?, "
                "status = CASE WHEN CAST(? AS REAL) IS NULL THEN 'dead' ELSE 'pending' END, "
                "next_attempt = COALESCE(?, next_attempt), lease_until = NULL "
                "WHERE id = ? AND status = 'pending'" + FENCE,
                [(error, retry_at, retry_at, alert_id, self._token(alert_id))
                 for alert_id in ids])

    def hold(self, ids: Sequence[int], until: float, max_age: float) -> None:
        """Keep alerts for a digest at `until` (digest time, end of quiet hours, rate window).
        Their age counts from then: they fall due at `until`, not before."""
        with self._db.transaction() as db:
            db.executemany("UPDATE alerts SET batch = 1, next_attempt = ?, "
                           "expires_at = greatest(expires_at, ?), lease_until = NULL "
                           "WHERE id = ? AND status = 'pending'" + FENCE,
                           [(until, until + max_age, alert_id, self._token(alert_id))
                            for alert_id in ids])

    def _token(self, alert_id: int) -> int | None:
        return self._leases.token("alerts", alert_id)

    def expire(self, now: float) -> list[int]:
        """Dead-letter the pending alerts past their age limit, sent or not: after a long outage
        yesterday's news is not sent as if it were today's (but not while an instance is
        sending them). Returns their ids."""
        return sorted(row[0] for row in self._db.execute(
            "UPDATE alerts SET status = 'dead', last_error = coalesce(last_error || '; ', '') || "
            "'expired: past notify.max_age before it could be sent' WHERE expires_at <= ?"
            + _FREE + " RETURNING id", (now, now)))

    def rows(self, *, state: str | None, since: float, now: float,
             limit: int = 200) -> list[OutboxRow]:
        """Alerts created since `since`, newest first, all or in one state (see `state_sql`)."""
        rows = self._db.execute(
            f"SELECT * FROM (SELECT *, {state_sql()} AS state FROM alerts "
            f"WHERE created_at >= ?) AS found {'WHERE state = ?' if state else ''} "
            "ORDER BY id DESC LIMIT ?", (now, since, *([state] if state else []), limit)
        ).fetchall()
        return [OutboxRow(row["id"], row["state"], row["channel"], row["rule"], row["title"],
                          row["attempts"], row["created_at"], row["next_attempt"],
                          row["delivered_at"], row["last_error"]) for row in rows]

    def requeue(self, *, now: float, max_age: float, ids: Sequence[int] = (),
                dead: bool = False) -> int:
        """Put dead-lettered alerts back in line now, with a new age limit; returns how many.
        A sent alert is never requeued: it would reach its readers twice; `dead` (all of
        them) leaves those of muted stories."""
        with self._db.transaction() as db:
            if dead:
                return db.execute("UPDATE alerts SET status = 'pending', next_attempt = ?, "
                                  "expires_at = ? WHERE status = 'dead' "
                                  "AND coalesce(last_error, '') != ?",
                                  (now, now + max_age, MUTED)).rowcount
            return sum(db.execute("UPDATE alerts SET status = 'pending', next_attempt = ?, "
                                  "expires_at = ? WHERE id = ? AND status = 'dead'",
                                  (now, now + max_age, alert_id)).rowcount for alert_id in ids)

    def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        """alert id → its status, for the ids that exist."""
        return {row[0]: row[1] for alert_id in ids for row in self._db.execute(
            "SELECT id, status FROM alerts WHERE id = ?", (alert_id,))}


def queue_alerts(db: Database, story_id: int, item_id: int,
                 alerts: Sequence[Alert], now: float, max_age: float) -> int:
    """Queue alerts in the outbox (inside the caller's transaction); returns how many were new:
    an alert whose story × channel (a follow-up: × item) is queued already is not again."""
    queued = 0
    for alert in alerts:
        queued += db.execute(
            "INSERT INTO alerts (story_id, item_id, rule, channel, kind, outlet, "
            "priority, title, payload, batch, next_attempt, expires_at, created_at, "
            "subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (story_id, item_id, alert.rule, alert.channel, alert.kind, alert.outlet,
             alert.priority, alert.title, json.dumps(alert.payload, ensure_ascii=False),
             alert.hold_until is not None, alert.hold_until or now,
             max(now, alert.hold_until or now) + max_age, now,
             alert.subject or (str(item_id) if alert.kind == "followup" else ""))).rowcount
    return queued
