import json
import logging
import sys

import pytest

from monitor.telemetry import logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_fields(capsys, restore_logging) -> None:
    logs.setup(logging.INFO, "json")
    logging.getLogger("monitor.runners.pipeline").warning(
        "feed %r failed: %s", "Le Monde", "HTTP 500", extra={"feed": "Le Monde"})
    line = capsys.readouterr().err.strip()
    record = json.loads(line)
    assert record["level"] == "warning" and record["logger"] == "monitor.runners.pipeline"
    assert record["message"] == "feed 'Le Monde' failed: HTTP 500"
    assert record["feed"] == "Le Monde" and "time" in record


def test_text_lines(capsys, restore_logging) -> None:
    logs.setup(logging.INFO, "text")
    logging.getLogger("monitor").info("monitor running: %d feed(s)", 3)
    assert capsys.readouterr().err.rstrip().endswith("INFO monitor: monitor running: 3 feed(s)")


def test_secrets_never_reach_the_log(capsys, restore_logging) -> None:
    logs.setup(logging.INFO, "json")
    logs.hide({"xoxb-SECRET-TOKEN", "s3cretpassw0rd"})
    logging.getLogger("anything").error("failed to post to slack://xoxb-SECRET-TOKEN with "
                                        "%s", "user:s3cretpassw0rd@smtp")
    err = capsys.readouterr().err
    assert "SECRET" not in err and "s3cret" not in err and "****" in err


def test_debug_is_ours_until_asked_for_everything(capsys, restore_logging) -> None:
    """-v (DEBUG) shows the daemon's debug lines, not tzlocal's; -vv shows those too. Apprise's
    lines never reach the log: they are captured per send, scrubbed of tokens."""
    logs.setup(logging.DEBUG, "text")
    for name in ("apprise", "tzlocal", "monitor.runners.pipeline"):
        logging.getLogger(name).debug("from %s", name)
    assert [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()] == \
        ["from monitor.runners.pipeline"]
    logs.setup(logging.DEBUG - 1, "text")
    for name in ("apprise", "tzlocal"):
        logging.getLogger(name).warning("from %s", name)
    assert [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()] == \
        ["from tzlocal"]
    logs.setup(logging.INFO, "text")  # the libraries quiet again


def test_a_line_repeated_in_a_flood_is_written_ten_times_a_minute() -> None:
    from monitor.telemetry.logs import RepeatFilter

    now = [0.0]
    repeats = RepeatFilter(clock=lambda: now[0])

    def record(client: str) -> logging.LogRecord:
        return logging.LogRecord("monitor.web.limits", logging.WARNING, __file__, 1,
                                 "a connection from %s refused", (client,), None)

    let_through = [repeats.filter(record(f"10.0.0.{n}")) for n in range(1000)]
    assert sum(let_through) == 10
    other = logging.LogRecord("monitor", logging.WARNING, __file__, 1, "another", None, None)
    assert repeats.filter(other)  # each kind has its own count
    now[0] = 61.0
    first = record("10.0.0.1")
    assert repeats.filter(first)
    assert first.getMessage() == "a connection from 10.0.0.1 refused (990 more like it left out)"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_holding_a_secret_is_scrubbed(capsys, restore_logging, fmt: str) -> None:
    """The filter once scrubbed the message only: `log.exception` printed a token held by the
    exception's text, in both formats."""
    logs.setup(logging.INFO, fmt)
    logs.hide({"xoxb-SECRET-TOKEN"})
    try:
        raise ValueError("invalid URL slack://xoxb-SECRET-TOKEN/channel")
    except ValueError:
        logging.getLogger("monitor.daemon").exception("job failed")
    logging.getLogger("monitor.daemon").warning("here", stack_info=True,
                                                extra={"why": "xoxb-SECRET-TOKEN"})
    err = capsys.readouterr().err
    assert "invalid URL slack://****/channel" in err  # the traceback is there, scrubbed
    assert "SECRET" not in err


def test_json_errors_and_stacks_have_their_keys_and_french_stays_readable(
        capsys, restore_logging) -> None:
    logs.setup(logging.INFO, "json")
    try:
        raise ValueError("flux « Libération » illisible")
    except ValueError:
        logging.getLogger("monitor").exception("échec")
    logging.getLogger("monitor").warning("pile", stack_info=True)
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "échec" and "ValueError: flux « Libération » illisible" in \
        first["error"] and "stack" not in first
    assert "Stack (most recent call last)" in second["stack"] and "error" not in second
    logging.getLogger("monitor").info("Élysée")
    assert '"message": "Élysée"' in capsys.readouterr().err  # not \u00c9lys\u00e9e


def test_secrets_add_up_and_a_short_one_is_not_taken_for_one(capsys, restore_logging) -> None:
    """A second call of `hide` keeps the first one's secrets; a value of fewer than four
    characters (a port, "on") is not scrubbed from every line."""
    logs.setup(logging.INFO, "text")
    logs.hide({"tok-first-1234"})
    logs.hide({"tok-second-5678", "abc"})
    logging.getLogger("monitor").warning("tok-first-1234 tok-second-5678 abc abcd")
    err = capsys.readouterr().err
    assert "tok-first" not in err and "tok-second" not in err and "abc abcd" in err


def test_the_repeat_window_ends_at_sixty_seconds_not_after() -> None:
    from monitor.telemetry.logs import RepeatFilter

    now = [0.0]
    repeats = RepeatFilter(clock=lambda: now[0])
    line = logging.LogRecord("monitor", logging.WARNING, __file__, 1, "same", None, None)
    assert all(repeats.filter(line) for _ in range(10)) and not repeats.filter(line)
    now[0] = 59.9
    assert not repeats.filter(line)  # still the same window
    now[0] = 60.0
    assert repeats.filter(line)  # a new one


def test_off_a_terminal_the_default_format_is_json(
        capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    for args in ((logging.INFO,), (logging.INFO, "auto")):  # stderr is captured: no terminal
        logs.setup(*args)
        logging.getLogger("monitor").warning("format %s", args)
        assert json.loads(capsys.readouterr().err)["message"] == f"format {args}"


def test_apprise_is_kept_apart_even_if_it_was_not_before(
        capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """Importing the notifier already keeps it apart: undone here, `setup` must do it too."""
    apprise = logging.getLogger("apprise")
    apprise.setLevel(logging.NOTSET)
    apprise.propagate = True
    logs.setup(logging.DEBUG - 1, "text")
    apprise.warning("sent to slack://xoxb-token")
    assert capsys.readouterr().err == ""
    assert apprise.getEffectiveLevel() == logging.WARNING  # its per-send capture sees warnings


@pytest.mark.parametrize("library", ["aiohttp", "apscheduler", "trafilatura", "htmldate",
                                     "charset_normalizer", "asyncio", "tzlocal", "markdown",
                                     "courlan", "justext"])
def test_a_noisy_library_debugs_at_dash_vv_only(
        capsys: pytest.CaptureFixture[str], restore_logging: None, library: str) -> None:
    logs.setup(logging.DEBUG, "text")
    logging.getLogger(library).info("at -v")
    assert capsys.readouterr().err == ""
    logs.setup(logging.DEBUG - 1, "text")
    logging.getLogger(library).debug("at -vv")
    assert capsys.readouterr().err.rstrip().endswith(f"DEBUG {library}: at -vv")
    logs.setup(logging.INFO, "text")  # the libraries quiet again


def test_json_time_is_utc_to_the_millisecond_and_a_traceback_is_its_error() -> None:
    """Without a secret registered, the filter leaves no scrubbed text: the formatter writes
    the exception itself."""
    try:
        raise ValueError("flux illisible")
    except ValueError:
        record = logging.LogRecord("monitor", logging.ERROR, __file__, 1, "échec", None,
                                   sys.exc_info())
    record.created = 1_764_000_000.25
    data = json.loads(logs.JsonFormatter().format(record))
    assert data["time"] == "2025-11-24T16:00:00.250+00:00"
    assert data["error"].startswith("Traceback") and "ValueError: flux illisible" in data["error"]


def test_a_fresh_secret_filter_lets_lines_through_until_given_secrets() -> None:
    secrets = logs.SecretFilter()
    line = logging.LogRecord("monitor", logging.INFO, __file__, 1, "token %s", ("tok-1234",), None)
    assert secrets.filter(line) and line.getMessage() == "token tok-1234"
    secrets.secrets.add("tok-1234")
    assert secrets.filter(line) and line.getMessage() == "token ****"


def test_a_four_character_secret_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a registry of its own: the process's may hold this secret from an earlier test."""
    monkeypatch.setattr(logs, "_secrets", logs.SecretFilter())
    logs.hide({"wxyz", "abc"})
    assert logs.scrubbed("password wxyz, port abc") == "password ****, port abc"


def test_the_repeat_window_counts_from_its_start_whatever_the_clock_reads() -> None:
    now = [1000.0]  # a monotonic clock starts anywhere
    repeats = logs.RepeatFilter(clock=lambda: now[0])
    line = logging.LogRecord("monitor", logging.WARNING, __file__, 1, "same", None, None)
    assert sum(repeats.filter(line) for _ in range(20)) == 10
    now[0] = 1059.0
    assert not repeats.filter(line)


def test_each_message_template_of_a_logger_has_its_own_count() -> None:
    repeats = logs.RepeatFilter(clock=lambda: 0.0)

    def line(template: str) -> logging.LogRecord:
        return logging.LogRecord("monitor", logging.WARNING, __file__, 1, template, None, None)

    assert sum(repeats.filter(line("first")) for _ in range(20)) == 10
    assert repeats.filter(line("second"))


def test_the_repeat_filter_forgets_the_oldest_kind_past_a_thousand() -> None:
    def line(template: str) -> logging.LogRecord:
        return logging.LogRecord("monitor", logging.WARNING, __file__, 1, template, None, None)

    def flooded_then(others: int) -> bool:
        """Whether a flooded kind is let through again after `others` new kinds."""
        repeats = logs.RepeatFilter(clock=lambda: 0.0)
        assert sum(repeats.filter(line("flood")) for _ in range(11)) == 10
        assert all(repeats.filter(line(f"other {n}")) for n in range(others))
        return repeats.filter(line("flood"))

    assert not flooded_then(999)  # a thousand kinds are remembered
    assert flooded_then(1000)  # the thousand and first pushes out the oldest: its count restarts


def test_a_job_still_running_at_its_next_tick_is_no_warning_but_others_are(
        capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    import asyncio

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    logs.setup(logging.INFO, "text")

    async def long_job() -> None:
        await asyncio.sleep(1.0)  # spans several ticks, as completing a burst does

    async def scenario() -> None:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        scheduler.add_job(long_job, "interval", seconds=0.1, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
        scheduler.start()
        await asyncio.sleep(0.6)
        scheduler.shutdown(wait=False)

    asyncio.run(scenario())
    logging.getLogger("apscheduler.scheduler").warning("something else went wrong")
    err = capsys.readouterr().err
    assert "maximum number of running instances" not in err
    assert "something else went wrong" in err
