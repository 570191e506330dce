from pathlib import Path

import pytest

from monitor.config.config import CONSOLE, default_path, load
from monitor.core.errors import InvalidInput
from monitor.core.units import parse_duration, parse_size


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, env: dict | None = None) -> list[str]:
    with pytest.raises(InvalidInput) as error:
        load(path, env or {})
    return [str(problem) for problem in error.value.problems]


def test_minimal_config_gets_defaults_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load(write(tmp_path, "feeds: []\n"), {})
    assert config.database == tmp_path / "monitor.db"
    assert config.rules == [tmp_path / "rules"]
    assert config.notify.default == [CONSOLE]
    assert config.network.allow_private_addresses is False
    assert config.poll.interval == 600


def test_empty_file_is_a_valid_idle_config(tmp_path: Path) -> None:
    assert load(write(tmp_path, ""), {}).feeds == []


def test_durations_and_sizes() -> None:
    assert [parse_duration(v) for v in (90, "90s", "10m", "1.5h", "3d", "500ms")] == \
        [90, 90, 600, 5400, 259200, 0.5]
    assert [parse_size(v) for v in (1024, "512KB", "10MB", "1MiB")] == \
        [1024, 512_000, 10_000_000, 1_048_576]
    for bad in ("soon", "-1m", 0, True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_duration("7j") == parse_duration("7d")  # jours, as the console writes them


def test_a_typed_period_needs_its_unit() -> None:
    """`--since 2` once meant two seconds ago; the config's bare numbers stay seconds."""
    assert parse_duration("2") == 2
    with pytest.raises(ValueError, match="'2' needs a unit: 2m, 2h, 2d"):
        parse_duration("2", bare_seconds=False)
    with pytest.raises(ValueError, match="needs a unit"):
        parse_duration(2, bare_seconds=False)
    assert parse_duration("30j", bare_seconds=False) == 30 * 86400


def test_feed_interval_falls_back_to_poll_interval(tmp_path: Path) -> None:
    config = load(write(tmp_path, """
poll: {interval: 15m}
feeds:
  - {name: A, url: "https://a.fr/rss", interval: 2m}
  - {name: B, url: "https://b.fr/rss"}
"""), {})
    assert [config.feed_interval(f) for f in config.feeds] == [120, 900]


def test_backfill_defaults_to_a_day_and_each_feed_may_say_otherwise(tmp_path: Path) -> None:
    config = load(write(tmp_path, """
feeds:
  - {name: A, url: "https://a.fr/rss"}
  - {name: B, url: "https://b.fr/rss", backfill: all}
  - {name: C, url: "https://c.fr/rss", backfill: 0}
  - {name: D, url: "https://d.fr/rss", backfill: 2h}
"""), {})
    assert [config.feed_backfill(f) for f in config.feeds] == [86400, None, 0, 7200]
    path = write(tmp_path, "poll: {backfill: always}\n")
    assert problems(path) == [
        f"{path}:1: poll.backfill: 'always' is not a duration such as 24h, nor 0 or all"]


def test_env_substitution_with_default_and_missing(tmp_path: Path) -> None:
    path = write(tmp_path, """
notify:
  channels:
    ops: "json://${HOOK_HOST}/hook"
    other: "json://${OTHER:-127.0.0.1}/x"
    mail: "mailto://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.org"
""")
    assert problems(path, {"HOOK_HOST": "h.example.org"}) == [
        f"{path}:6: notify.channels.mail: environment variable SMTP_USER is not set",
        f"{path}:6: notify.channels.mail: environment variable SMTP_PASSWORD is not set",
    ]
    config = load(path, {"HOOK_HOST": "h.example.org", "SMTP_USER": "u", "SMTP_PASSWORD": "p"})
    assert config.notify.urls("ops") == ["json://h.example.org/hook"]
    assert config.notify.urls("other") == ["json://127.0.0.1/x"]


def test_every_problem_at_once_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, """database: x.db
feeds:
  - name: A
    url: ftp://a.fr/rss
  - name: B
    url: https://b.fr/rss
    interval: soon
    colour: blue
network:
  per_host: 0
""")
    assert problems(path) == [
        f"{path}:4: feeds[0].url: 'ftp://a.fr/rss' is not an http(s) URL",
        f"{path}:7: feeds[1].interval: 'soon' is not a duration such as 30s, 10m, 2h, 3d",
        f"{path}:8: feeds[1].colour: unknown key",
        f"{path}:10: network.per_host: Input should be greater than or equal to 1",
    ]


def test_cross_checks(tmp_path: Path) -> None:
    (tmp_path / "apprise.yml").write_text("urls:\n  - json://h.example.org/x:\n      tag: a\n")
    (tmp_path / "bad.j2").write_text("{{ titel }}")
    path = write(tmp_path, """feeds:
  - {name: A, url: "https://a.fr/rss"}
  - {name: A, url: "https://a.fr/rss"}
notify:
  channels:
    ops: "notaservice://x"
    team: {config: apprise.yml, tag: b}
    mail: {urls: "json://h.example.org/y", template: bad.j2}
  default: [ops, nowhere]
  priority: {high: [telegram]}
""")
    assert problems(path) == [
        f"{path}:3: feeds[1].name: same name as feeds[0]",
        f"{path}:3: feeds[1].url: same url as feeds[0]",
        f"{path}:6: notify.channels.ops.urls[0]: not a notification URL Apprise understands "
        "(scheme 'notaservice')",
        f"{path}:7: notify.channels.team.config: {tmp_path / 'apprise.yml'}: no usable Apprise "
        "URL tagged 'b'",
        f"{path}:8: notify.channels.mail.template: template error on a match alert: 'titel' is undefined",
        f"{path}:9: notify.default[1]: unknown channel 'nowhere'",
        f"{path}:10: notify.priority.high[0]: unknown channel 'telegram'",
    ]


def test_a_url_apprise_refuses_says_its_reason_without_the_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, """notify:
  channels:
    mail: "mailto://veilleur:motdepasse@127.0.0.1:1?to=redaction@example.org"
    slack: "slack://T1JJ3T3L2/A1BRTD4JD"
""")
    assert problems(path) == [
        f"{path}:3: notify.channels.mail.urls[0]: Apprise refuses it: Invalid ~From~ email "
        "specified: Apprise <****@****> (give the sender: from=veille@example.org)",
        f"{path}:4: notify.channels.slack.urls[0]: Apprise refuses it: An invalid Slack (third) "
        "Token (None) was specified."]


def test_channel_shape_mistakes(tmp_path: Path) -> None:
    path = write(tmp_path, """notify:
  channels:
    empty: []
    night: {urls: "json://h.example.org/x", quiet: "22h-7h"}
  timezone: Europe/Pariss
""")
    assert problems(path) == [
        f"{path}:3: notify.channels.empty: give 'urls' or an Apprise 'config' file",
        f"{path}:4: notify.channels.night.quiet: '22h-7h' is not a window such as 22:00-07:00",
        f"{path}:5: notify.timezone: unknown time zone 'Europe/Pariss'",
    ]


def test_console_is_reserved(tmp_path: Path) -> None:
    path = write(tmp_path, "notify:\n  channels:\n    console: json://x/y\n")
    assert problems(path) == [f"{path}:3: notify.channels.console: 'console' is the built-in console channel"]


def test_bad_yaml_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: A\n    url: [unclosed\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message


def test_yaml_is_parsed_safely(tmp_path: Path) -> None:
    path = write(tmp_path, "database: !!python/object/apply:os.system ['echo pwned']\n")
    assert problems(path) == [
        f"{path}:1: database: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system"]


def test_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_path({}) == Path("config.yaml")
    assert default_path({"MONITOR_CONFIG": "/etc/monitor/config.yaml"}) == \
        Path("/etc/monitor/config.yaml")
    (tmp_path / "config.yaml").write_text("")
    assert default_path({"MONITOR_CONFIG": "/etc/monitor/config.yaml"}) == Path("config.yaml")
