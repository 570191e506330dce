"""Prometheus metrics, every one prefixed `monitor_`, in a registry of the daemon's own (no global
state: tests and several pipelines in one process don't mix their counts)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.polls = Counter("monitor_polls", "Feed polls by outcome (new, malformed: "
                             "read in spite of errors, not-modified, unchanged, failed).",
                             ["status"], registry=registry)
        self.not_modified_ratio = Gauge("monitor_poll_not_modified_ratio",
                                        "Share of successful polls answered 304 Not Modified.",
                                        registry=registry)
        self.items_new = Counter("monitor_items_new", "New items stored.", registry=registry)
        self.articles = Counter("monitor_articles", "Articles completed, by where their text "
                                "came from (page: extracted; feed: page failed, summary used).",
                                ["source"], registry=registry)
        self.matches = Counter("monitor_matches", "Rule matches.", ["rule"], registry=registry)
        self.alerts = Counter("monitor_alerts", "Alerts by channel and result (sent, failed, "
                              "dead).", ["channel", "result"], registry=registry)
        self.outbox_depth = Gauge("monitor_outbox_depth", "Alerts waiting to be delivered.",
                                  registry=registry)
        self.poll_seconds = Histogram("monitor_poll_seconds", "Time to fetch and parse one feed.",
                                      buckets=LATENCY_BUCKETS, registry=registry)
        self.pipeline_seconds = Histogram("monitor_pipeline_seconds", "Time from a poll seeing "
                                          "an item to its alerts being queued.",
                                          buckets=LATENCY_BUCKETS, registry=registry)
        self.troubles = Counter("monitor_troubles", "Troubles worked around, by kind "
                                "(stories-lock: another instance held it; lease-lost: work "
                                "another instance took over; write-failed: a finishing write "
                                "refused; database: the heartbeat not written).", ["kind"],
                                registry=registry)
        self.feeds_failing = Gauge("monitor_feeds_failing", "Feeds whose last poll failed.",
                                   registry=registry)
        self.feed_success_age = _FeedAges(registry)
        self._good = self._not_modified = 0
        self._polls_by_status: dict[str, Counter] = {}  # labels() looked up once per status

    def poll(self, status: str, seconds: float) -> None:
        counter = self._polls_by_status.get(status)
        if counter is None:
            counter = self._polls_by_status[status] = self.polls.labels(status)
        counter.inc()
        self.poll_seconds.observe(seconds)
        if status != "failed":
            self._good += 1
            self._not_modified += status == "not-modified"
            self.not_modified_ratio.set(self._not_modified / self._good)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _FeedAges:
    """`monitor_feed_seconds_since_success{feed=…}`, from the ages given before each scrape.
    Not a labelled Gauge: at 10,000 feeds its children kept 18 MB and a scrape took 480 ms to
    write them (45 ms this way), and a feed taken out of the config stayed in it until a restart."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._ages: Sequence[tuple[str, float]] = ()
        registry.register(self)

    def set_all(self, ages: Sequence[tuple[str, float]]) -> None:
        """(feed name, seconds since its last success) of every feed to show, replacing the last."""
        self._ages = ages

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("monitor_feed_seconds_since_success",
                                   "Seconds since each feed's last successful poll.",
                                   labels=["feed"])
        for name, age in self._ages:
            family.add_metric([name], age)
        yield family
