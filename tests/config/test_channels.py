from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monitor.config.channels import ChannelConfig, Digest
from monitor.core.clocks import in_quiet, next_digest, quiet_end, rate

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def test_short_and_long_forms() -> None:
    assert ChannelConfig.model_validate("json://x/y").urls == ["json://x/y"]
    assert ChannelConfig.model_validate(["json://a", "json://b"]).urls == ["json://a", "json://b"]
    assert ChannelConfig.model_validate({"urls": "json://a", "quiet": "22:00-07:00"}).quiet


@pytest.mark.parametrize("value", [
    {}, {"urls": [], "tag": "x"}, {"urls": ["json://a"], "quiet": "22h-7h"},
    {"urls": ["json://a"], "rate_limit": "many"}, {"urls": ["json://a"], "digest": {}},
    {"urls": ["json://a"], "digest": {"every": "1h", "at": "08:00"}},
    {"urls": ["json://a"], "digest": {"at": "25:00"}}, {"urls": ["json://a"], "format": "pdf"},
])
def test_invalid_channels(value) -> None:
    with pytest.raises(ValidationError):
        ChannelConfig.model_validate(value)


def test_quiet_hours_across_midnight_in_paris_time() -> None:
    assert in_quiet(at("2025-11-24T23:30"), "22:00-07:00", PARIS)
    assert in_quiet(at("2025-11-25T06:59"), "22:00-07:00", PARIS)
    assert not in_quiet(at("2025-11-25T07:00"), "22:00-07:00", PARIS)
    assert not in_quiet(at("2025-11-24T12:00"), "22:00-07:00", PARIS)
    assert quiet_end(at("2025-11-24T23:30"), "22:00-07:00", PARIS) == at("2025-11-25T07:00")
    assert in_quiet(at("2025-11-24T13:00"), "12:00-14:00", PARIS)


def test_quiet_end_across_a_daylight_saving_change() -> None:
    # The night of 29 to 30 March 2025: clocks go from 02:00 to 03:00 in Paris.
    assert quiet_end(at("2025-03-29T23:00"), "22:00-07:00", PARIS) == at("2025-03-30T07:00")
    assert at("2025-03-30T07:00") - at("2025-03-29T23:00") == 7 * 3600


def test_digest_times() -> None:
    assert next_digest(at("2025-11-24T09:10"), Digest(at="08:00"), PARIS) == at("2025-11-25T08:00")
    assert next_digest(at("2025-11-24T07:10"), Digest(at="08:00"), PARIS) == at("2025-11-24T08:00")
    assert next_digest(at("2025-11-24T09:10"), Digest(every="1h"), PARIS) == at("2025-11-24T10:00")
    assert next_digest(at("2025-11-24T10:00"), Digest(every="30m"), PARIS) == at("2025-11-24T10:30")


def test_rates() -> None:
    assert rate("10/min") == (10, 60.0)
    assert rate("3 / hour") == (3, 3600.0)
