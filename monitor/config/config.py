"""`config.yaml` → a validated `Config`, with every problem reported at once as file:line: field.

Relative paths in the file are relative to the file, so the daemon behaves the same whatever its
working directory (systemd starts it in /).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apprise
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor import __version__
from monitor.config.channels import ChannelConfig
from monitor.core import schedule, templates, yamlsource
from monitor.core.errors import InvalidInput, Problem
from monitor.core.units import parse_backfill, parse_duration, parse_size
from monitor.telemetry import logs

CONSOLE = "console"  # the built-in channel: alerts printed on standard output


def is_postgres(target: str | Path) -> bool:
    """Whether `database:` names a PostgreSQL server rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))

Duration = Annotated[float, BeforeValidator(parse_duration)]
Backfill = Annotated[float | None, BeforeValidator(parse_backfill)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkConfig(_Strict):
    allow_private_addresses: bool = False
    user_agent: str = f"monitor/{__version__} (news monitoring daemon; +https://pypi.org/project/monitor/)"
    timeout: Duration = 30.0  # total deadline of one request, body included
    connect_timeout: Duration = 10.0
    max_feed_size: Size = 10_000_000  # after decompression
    max_page_size: Size = 5_000_000
    # 128 lanes at 2 per host: 1,000 feeds on 100 hosts answer a 304 cycle in 0.5 s at 50 ms a
    # request (0.9 s with 64; 256 gain nothing: bench/farm.py --hosts 100); a lane holds one
    # body at a time, so memory stays bounded
    concurrency: int = Field(128, ge=1, le=512)
    per_host: int = Field(2, ge=1, le=64)


class PollConfig(_Strict):
    interval: Duration = 600.0
    stale_after: Duration | None = None  # alert when a feed has had no new item for this long
    max_backoff: Duration = 6 * 3600.0
    tick: Duration = 15.0  # how often the scheduler looks for due feeds
    # On a feed's first poll, what it lists from before this raises no alert (0: nothing, all:
    # everything may alert); those items are still stored, matched and put in their stories.
    backfill: Backfill = 24 * 3600.0


class DedupConfig(_Strict):
    window: Duration = 72 * 3600.0
    followups: Literal["digest", "message", "off"] = "digest"  # another outlet joins a story


class FeedConfig(_Strict):
    name: str = Field(min_length=1)
    url: str
    interval: Duration | None = None
    backfill: Backfill | Literal["default"] = "default"  # default: poll.backfill
    tags: list[str] = Field(default_factory=list)  # for rules' `tags:` filter
    stale_after: Duration | None = None  # default: poll.stale_after
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.strip()


class TrendingConfig(_Strict):
    """`notify.trending`: one alert for any story, matched by a rule or not, when it is carried
    by `outlets` distinct outlets within `within` (opt-in)."""

    outlets: int = Field(ge=2)
    within: Duration = Field(gt=0)
    channels: list[str] | None = None  # default: notify.default
    priority: Literal["low", "normal", "high"] = "normal"


class NotifyConfig(_Strict):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=lambda: [CONSOLE])
    priority: dict[Literal["low", "normal", "high"], list[str]] = Field(default_factory=dict)
    ops: list[str] | None = None  # channels for operational alerts; default: `ops`, else console
    timezone: str = "Europe/Paris"  # for quiet hours, digest times and dates in alerts
    max_age: Duration = 24 * 3600.0  # an alert still undelivered after this is dead-lettered
    max_retry_delay: Duration = schedule.ALERT_MAX_RETRY  # a failed send waits 10 s, doubling to this
    timeout: Duration = 60.0  # total deadline of one send
    trending: TrendingConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def all_urls(self) -> list[str]:
        """Every Apprise URL the channels list: what logs, errors and pages must never show."""
        return [url for channel in self.channels.values() for url in channel.urls]

    def ops_channels(self) -> list[str]:
        if self.ops is not None:
            return list(self.ops)
        return ["ops"] if "ops" in self.channels else [CONSOLE]

    def urls(self, channel: str) -> list[str]:
        found = self.channels.get(channel)
        return list(found.urls) if found else []


class HttpAuthConfig(_Strict):
    """Who may use the console: a password (its argon2 or bcrypt hash, made by `monitor console
    hash-password`) typed on the login page, and/or a token, for the login page or for API clients
    (`Authorization: Bearer …`). Give them as ${ENV} references."""

    password_hash: str | None = None
    token: str | None = Field(None, min_length=16)
    session: Duration = 12 * 3600.0  # how long a login lasts

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("$argon2", "$2a$", "$2b$", "$2y$")):
            raise ValueError("expected an argon2 or bcrypt hash ($argon2id$… or $2b$…): make one "
                             "with `monitor console hash-password`")
        return value


class HttpEndpointConfig(_Strict):
    # host:port (or just the port: 127.0.0.1) of the console, /healthz and /metrics
    listen: str
    auth: HttpAuthConfig | None = None

    @field_validator("listen", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        from monitor.core.listen import parse_listen

        host, port = parse_listen(str(value))
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @field_validator("auth")
    @classmethod
    def _some_secret(cls, value: HttpAuthConfig | None) -> HttpAuthConfig | None:
        if value is not None and not value.password_hash and not value.token:
            raise ValueError("give password_hash or token (or remove auth)")
        return value

    @model_validator(mode="after")
    def _loopback_or_login(self) -> HttpEndpointConfig:
        from monitor.core.listen import is_loopback, parse_listen

        host, _ = parse_listen(self.listen)
        if self.auth is None and not is_loopback(host):
            raise ValueError(f"the console would listen on {host}, beyond this machine, with no "
                             "login: set http.auth (password_hash or token), or listen on "
                             "127.0.0.1")
        return self


class Config(_Strict):
    path: Path  # the file this came from; paths below are resolved against it
    # a SQLite file (beside this config when relative), or postgresql://user@host/db for
    # several instances sharing the work (give the password as ${ENV})
    database: Path | str = Path("monitor.db")
    # how long a piece of work an instance took (a feed's poll, an item, an alert's sending)
    # stays its own; past it, another instance takes over the work of one that died
    lease: Duration = Field(120.0, gt=0)
    # this instance's name among those sharing a PostgreSQL database (default: the host's
    # name); one process per name: a restarted one takes its predecessor's work back at once
    instance: str | None = Field(None, min_length=1, max_length=100)
    rules: list[Path] = Field(default_factory=lambda: [Path("rules")])
    workers: int = Field(2, ge=0, le=64)  # processes for parsing and extraction; 0 = in-process
    watch_rules: bool = True  # reload config and rule files when they change (and on SIGHUP)
    retention: Duration = 90 * 86400.0  # after this, articles keep only what identifies them
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    poll: PollConfig = Field(default_factory=PollConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    feeds: list[FeedConfig] = Field(default_factory=list)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    http: HttpEndpointConfig | None = None

    @field_validator("database", mode="before")
    @classmethod
    def _file_or_server(cls, value: Any) -> Any:
        if isinstance(value, str) and "://" in value and not is_postgres(value):
            raise ValueError("a database is a SQLite file's path or a postgresql:// URL")
        return Path(value) if isinstance(value, str) and not is_postgres(value) else value

    @field_validator("rules", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value

    def feed_interval(self, feed: FeedConfig) -> float:
        return feed.interval or self.poll.interval

    def feed_backfill(self, feed: FeedConfig) -> float | None:
        return self.poll.backfill if feed.backfill == "default" else feed.backfill


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """`./config.yaml` when it exists, else `$MONITOR_CONFIG`, else `./config.yaml` (to say so)."""
    env = os.environ if env is None else env
    local = Path("config.yaml")
    if local.exists() or not env.get("MONITOR_CONFIG"):
        return local
    return Path(env["MONITOR_CONFIG"])


def load(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; raise InvalidInput listing every problem."""
    source = yamlsource.load(path, env)
    data = source.data if source.data is not None else {}
    if not isinstance(data, dict):
        raise InvalidInput([source.problem((), "the file must be a mapping of settings")])
    if "path" in data:
        raise InvalidInput([source.problem(("path",), "unknown key")])
    database = (os.environ if env is None else env).get("MONITOR_DATABASE")
    if database:  # the environment's wins: a container's, or a test run's on PostgreSQL
        data = {**data, "database": database}
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as error:
        invalid = source.validation_problems(error)
        raise InvalidInput(_in_file_order(_with_source_problems(
            source, [*invalid, *_references(data, source)]))) from None
    problems = _in_file_order(_with_source_problems(
        source, [*_references(data, source), *_channels(config, source)]))
    if problems:
        raise InvalidInput(problems)
    base = path.resolve().parent
    return config.model_copy(update={
        "database": config.database if isinstance(config.database, str)
        else base / config.database,
        "rules": [base / rules for rules in config.rules],
    })


def _with_source_problems(source: yamlsource.Source, problems: list[Problem]) -> list[Problem]:
    """The reading's problems, then the others, but one per field: an unset ${VAR} left a
    value that the validation would report again."""
    reported = [problem.field for problem in source.problems]
    return [*source.problems, *(p for p in problems if not any(
        p.field == field or p.field.startswith((f"{field}.", f"{field}[")) for field in reported))]


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def rule_paths(path: Path) -> list[Path]:
    """Where a config file says its rules are, read as well as the file allows (for `check`,
    which reports the rules' problems even when the config has some)."""
    base = path.resolve().parent
    try:
        data = yamlsource.load(path, {}).data
    except InvalidInput:
        data = None
    listed = data.get("rules", "rules") if isinstance(data, dict) else "rules"
    listed = [listed] if isinstance(listed, str) else listed
    if not isinstance(listed, list):
        return [base / "rules"]
    return [base / item for item in listed if isinstance(item, str)]


def source_dir(config: Config) -> Path:
    """The directory relative paths in the config are relative to."""
    return config.path.resolve().parent


def apprise_config_targets(path: Path, tag: str | None) -> int:
    """How many services an Apprise config file gives (with `tag`, if given)."""
    loaded = apprise.AppriseConfig()
    loaded.add(str(path))
    services = apprise.Apprise()
    services.add(loaded)
    return sum(1 for _ in services.find(tag)) if tag else len(services)


@contextmanager
def _apprise_warnings() -> Iterator[list[str]]:
    """Apprise's warnings while in the block, kept (they never reach our log: see
    logs.keep_apprise_apart)."""
    logs.keep_apprise_apart()
    logger = logging.getLogger("apprise")
    found: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno == logging.WARNING:
                found.append(record.getMessage())

    handler = Keep(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def _apprise_refusal(url: str) -> str | None:
    """Why Apprise will not take `url`, in its own words (tokens masked), or None."""
    from monitor.core.secrets import scrub  # (notify needs this module first)

    with _apprise_warnings() as reasons:
        accepted = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if accepted:
        return None
    scheme = url.split("://", 1)[0] if "://" in url else url[:12]
    if not reasons:
        return f"not a notification URL Apprise understands (scheme '{scheme}')"
    reason = scrub("; ".join(dict.fromkeys(reasons)), [url])
    if "From" in reason:
        reason += " (give the sender: from=veille@example.org)"
    return f"Apprise refuses it: {reason}"


def _references(data: Mapping[str, Any], source: yamlsource.Source) -> list[Problem]:
    """Feeds named twice and channels named but not defined, read from the file as written:
    found in the same pass as any other problem, even when the rest does not validate."""
    problems = []
    seen: dict[str, dict[Any, int]] = {"name": {}, "url": {}}
    feeds = data.get("feeds")
    for index, feed in enumerate(feeds if isinstance(feeds, list) else ()):
        for what, values in seen.items():
            value = feed.get(what) if isinstance(feed, dict) else None
            if not isinstance(value, str):
                continue
            if value in values:
                problems.append(source.problem(("feeds", index, what),
                                               f"same {what} as feeds[{values[value]}]"))
            values.setdefault(value, index)
    notify = data.get("notify")
    notify = notify if isinstance(notify, dict) else {}
    channels = notify.get("channels")
    defined = set(channels) if isinstance(channels, dict) else set()
    if CONSOLE in defined:
        problems.append(source.problem(("notify", "channels", CONSOLE),
                                       f"'{CONSOLE}' is the built-in console channel"))
    named: list[tuple[tuple[str | int, ...], Any]] = []
    for key in ("ops", "default"):
        named += [(("notify", key), notify.get(key))]
    trending = notify.get("trending")
    if isinstance(trending, dict):
        named += [(("notify", "trending", "channels"), trending.get("channels"))]
    priority = notify.get("priority")
    if isinstance(priority, dict):
        named += [(("notify", "priority", level), names) for level, names in priority.items()]
    for where, names in named:
        for index, name in enumerate(names if isinstance(names, list) else ()):
            if isinstance(name, str) and name != CONSOLE and name not in defined:
                problems.append(source.problem((*where, index), f"unknown channel '{name}'"))
    return problems


def _channels(config: Config, source: yamlsource.Source) -> list[Problem]:
    """What only a validated channel can tell: Apprise refuses a URL, a config file gives no
    URL, a template does not compile."""
    problems = []
    base = source_dir(config)
    for name, channel in config.notify.channels.items():
        where = ("notify", "channels", name)
        for index, url in enumerate(channel.urls):
            refusal = _apprise_refusal(url)
            if refusal:
                problems.append(source.problem((*where, "urls", index), refusal))
        if channel.config is not None and not (base / channel.config).is_file():
            problems.append(source.problem((*where, "config"),
                                           f"{base / channel.config}: no such file"))
        elif channel.config is not None:
            found = apprise_config_targets(base / channel.config, channel.tag)
            if not found:
                tagged = f" tagged '{channel.tag}'" if channel.tag else ""
                problems.append(source.problem(
                    (*where, "config"), f"{base / channel.config}: no usable Apprise URL{tagged}"))
        if channel.template is not None:
            error = templates.check(channel.template, base)
            if error:
                problems.append(source.problem((*where, "template"), error))
    return problems
