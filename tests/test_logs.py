import json
import logging

import pytest

from monitor import logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_fields(capsys, restore_logging) -> None:
    logs.setup(logging.INFO, "json")
    logging.getLogger("monitor.pipeline").warning(
        "feed %r failed: %s", "Le Monde", "HTTP 500", extra={"feed": "Le Monde"})
    line = capsys.readouterr().err.strip()
    record = json.loads(line)
    assert record["level"] == "warning" and record["logger"] == "monitor.pipeline"
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
