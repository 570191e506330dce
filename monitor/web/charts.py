"""Pictures drawn on the server as SVG, with no script and no inline style (the console's CSP
stays as strict): a story's timeline, one row per outlet, and a sparkline of its articles over
time. Pure: values in, markup out, every text escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

ROW, LABEL, WIDTH, DOT = 22, 150, 560, 4  # timeline: row height, label column, plot width, dot
SPARK_W, SPARK_H, SPARK_BINS = 96, 20, 24


def timeline(points: Sequence[tuple[str, float]], zone: ZoneInfo) -> str:
    """Each article (outlet, when) as a dot on its outlet's row, time running left to right;
    the first and last moments written below."""
    if not points:
        return ""
    by_outlet: dict[str, list[float]] = {}  # in the order of each outlet's first article
    for outlet, at in sorted(points, key=lambda point: point[1]):
        by_outlet.setdefault(outlet, []).append(at)
    start, end = min(at for _, at in points), max(at for _, at in points)
    span = max(end - start, 60.0)
    height = ROW * len(by_outlet) + 24

    def x(at: float) -> float:
        return LABEL + 8 + (at - start) / span * (WIDTH - 16)

    rows = []
    for index, (outlet, times) in enumerate(by_outlet.items()):
        y = ROW * index + ROW / 2
        rows.append(f'<text x="{LABEL - 6}" y="{y + 4:.0f}" text-anchor="end" font-size="12" '
                    f'fill="#333">{escape(outlet[:24])}</text>'
                    f'<line x1="{LABEL}" y1="{y:.0f}" x2="{LABEL + WIDTH}" y2="{y:.0f}" '
                    'stroke="#ddd"/>')
        rows += [f'<circle cx="{x(at):.1f}" cy="{y:.0f}" r="{DOT}" fill="#1f5fa8">'
                 f"<title>{escape(outlet)} — {_when(at, zone)}</title></circle>"
                 for at in times]
    axis = ROW * len(by_outlet) + 16
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
            f'width="{LABEL + WIDTH}" height="{height}" viewBox="0 0 {LABEL + WIDTH} {height}">'
            f"<title>Articles du sujet dans le temps, par source</title>{''.join(rows)}"
            f'<text x="{LABEL}" y="{axis}" font-size="11" fill="#666">{_when(start, zone)}</text>'
            f'<text x="{LABEL + WIDTH}" y="{axis}" font-size="11" fill="#666" '
            f'text-anchor="end">{_when(end, zone)}</text></svg>')


def sparkline(times: Sequence[float], start: float, end: float) -> str:
    """Articles per slice of [start, end] (SPARK_BINS slices) as a small line."""
    if not times or end <= start:
        return ""
    counts = [0] * SPARK_BINS
    for at in times:
        slot = int((min(max(at, start), end) - start) / (end - start) * SPARK_BINS)
        counts[min(slot, SPARK_BINS - 1)] += 1
    top = max(counts)
    points = " ".join(f"{i * SPARK_W / (SPARK_BINS - 1):.1f},"
                      f"{SPARK_H - 2 - count / top * (SPARK_H - 4):.1f}"
                      for i, count in enumerate(counts))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{SPARK_W}" '
            f'height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}" role="img">'
            f"<title>{len(times)} article(s) dans le temps</title>"
            f'<polyline points="{points}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/></svg>')


BAR_W, BAR_GAP, BARS_H = 10, 3, 22


def poll_week(days: Mapping[int, tuple[int, int]], today: int) -> str:
    """A feed's last 7 days (UTC), a bar each: its polls, the failed part in red on top."""
    week = [days.get(day, (0, 0)) for day in range(today - 6, today + 1)]
    top = max((polls for polls, _ in week), default=0)
    if not top:
        return ""
    bars = []
    for index, (polls, failures) in enumerate(week):
        x, height = index * (BAR_W + BAR_GAP), polls / top * BARS_H
        failed = failures / top * BARS_H
        when = datetime.fromtimestamp((today - 6 + index) * 86400, UTC).strftime("%d/%m")
        bars.append(f'<g><title>{when} : {polls} lecture(s), {failures} en échec</title>'
                    f'<rect x="{x}" y="{BARS_H - height:.1f}" width="{BAR_W}" '
                    f'height="{height:.1f}" fill="#8fb3dc"/>'
                    f'<rect x="{x}" y="{BARS_H - height:.1f}" width="{BAR_W}" '
                    f'height="{failed:.1f}" fill="#c0392b"/></g>')
    width = 7 * (BAR_W + BAR_GAP)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="poll-week" role="img" '
            f'width="{width}" height="{BARS_H}" viewBox="0 0 {width} {BARS_H}">'
            f"<title>Lectures et échecs des 7 derniers jours</title>{''.join(bars)}</svg>")


def _when(at: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%d/%m %H:%M")
