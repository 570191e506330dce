import json
import logging

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
