"""The console's SVG pictures: what they draw, escaped, and nothing the CSP would refuse."""

import re
from zoneinfo import ZoneInfo

from monitor.web.charts import BARS_H, SPARK_BINS, poll_week, sparkline, timeline

PARIS = ZoneInfo("Europe/Paris")
HOSTILE = "<script>alert(1)</script> Le Monde"


def test_a_timeline_has_a_row_per_outlet_and_a_dot_per_article() -> None:
    svg = timeline([("RFI", 1000.0), (HOSTILE, 4600.0), ("RFI", 8200.0)], PARIS)
    assert svg.count("<circle") == 3
    assert svg.count("<line") == 2  # two outlets, in the order of their first article
    assert svg.index(">RFI<") < svg.index("&lt;script&gt;")
    assert "<script" not in svg and "style=" not in svg
    xs = [float(x) for x in re.findall(r'cx="([\d.]+)"', svg)]
    assert xs[0] < xs[2] < xs[1]  # RFI at 1000 and 8200, then the other at 4600: left to right
    assert timeline([], PARIS) == ""


def test_a_sparkline_counts_articles_per_slice() -> None:
    svg = sparkline([0.0, 0.0, 0.0, 50.0, 100.0], 0.0, 100.0)
    points = re.search(r'points="([^"]+)"', svg)
    assert points
    heights = [float(pair.split(",")[1]) for pair in points.group(1).split()]
    assert len(heights) == SPARK_BINS
    assert heights[0] == min(heights)  # three at the start: the top of the line
    assert heights[-1] < heights[1]  # one at the end, none just after the start
    assert sparkline([5.0], 5.0, 5.0) == ""  # one article: nothing to draw


def test_a_feed_s_week_is_seven_bars_with_its_failures_on_top() -> None:
    svg = poll_week({100: (10, 0), 103: (5, 5), 90: (99, 99)}, today=103)  # day 90: too old
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', svg)[1:]]  # after the svg's
    polls, failed = heights[0::2], heights[1::2]
    assert len(polls) == 7 and polls[0] == 0 and polls[3] == BARS_H  # day 100 is the top
    assert polls[6] == BARS_H / 2 and failed[6] == BARS_H / 2 and failed[3] == 0
    assert "14/04 : 5 lecture(s), 5 en échec" in svg  # day 103 is 1970-04-14
    assert poll_week({}, today=103) == ""
