"""The metrics' exposition: what a Prometheus scrape reads."""

from prometheus_client.parser import text_string_to_metric_families

from monitor.telemetry.metrics import Metrics


def samples(metrics: Metrics, name: str) -> dict[str, float]:
    exposition = metrics.exposition().decode()
    return {sample.labels["feed"]: sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples if sample.name == name}


def test_each_feed_shows_its_age_and_a_feed_gone_from_the_config_goes_from_the_scrape() -> None:
    metrics = Metrics()
    metrics.feed_success_age.set_all([("Le Monde — Une", 60.0), ('Le "Fig"', 5.5)])
    assert samples(metrics, "monitor_feed_seconds_since_success") == {
        "Le Monde — Une": 60.0, 'Le "Fig"': 5.5}
    metrics.feed_success_age.set_all([("Le Monde — Une", 120.0)])  # the other one removed
    assert samples(metrics, "monitor_feed_seconds_since_success") == {"Le Monde — Une": 120.0}
