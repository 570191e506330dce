"""`monitor stories`, `monitor stories mute|unmute`, run as a user would."""

import json
from pathlib import Path

from tests.cli.test_alerts import newsroom
from tests.e2e.helpers import monitor_in
from tests.servers import Site, free_port


def test_a_muted_story_s_alert_stays_unsent_and_the_others_go(tmp_path: Path, site: Site) -> None:
    port = free_port()  # nobody listens yet, and alerts live 5 s: both headlines die…
    config = str(newsroom(tmp_path, site, port, max_age="5s"))
    assert monitor_in(tmp_path, "once", "--config", config).returncode == 0
    newsroom(tmp_path, site, port, max_age="1h")  # …and are put back in line, due now
    assert monitor_in(tmp_path, "alerts", "retry", "--dead", "--config", config
                      ).stdout.startswith("2 alert(s) requeued")
    stories = json.loads(monitor_in(tmp_path, "stories", "--json", "--config", config).stdout)
    missiles = next(s["id"] for s in stories if "missiles" in s["title"])
    assert not any(s["muted"] for s in stories)

    muted = monitor_in(tmp_path, "stories", "mute", str(missiles), "--config", config)
    assert muted.returncode == 0, muted.stderr
    assert muted.stdout == (f"story #{missiles} muted: no more alerts for it; 1 alert(s) not "
                            "yet sent muted with it\n")
    listing = monitor_in(tmp_path, "stories", "--config", config).stdout
    assert f"#{missiles:<6}" in listing and "[muted]" in listing
    assert listing.count("[muted]") == 1
    assert monitor_in(tmp_path, "alerts", "--status", "muted", "--config", config
                      ).stdout.splitlines()[-1].startswith("1 alert(s);")
    # a bulk retry leaves it; the next pass sends the other story's headline only
    assert monitor_in(tmp_path, "alerts", "retry", "--dead", "--config", config
                      ).stdout.startswith("0 alert(s) requeued")
    with Site(port=port) as catcher:
        assert monitor_in(tmp_path, "once", "--config", config).returncode == 0
        titles = [json.loads(r.body)["title"] for r in catcher.got("POST", "/hook")]
    assert titles == ["Le tomahawk, star des barbecues d’hiver"]

    unmuted = monitor_in(tmp_path, "stories", "unmute", str(missiles), "--config", config)
    assert unmuted.stdout.startswith(f"story #{missiles} unmuted")
    assert "[muted]" not in monitor_in(tmp_path, "stories", "--config", config).stdout
    missing = monitor_in(tmp_path, "stories", "mute", "9999", "--config", config)
    assert (missing.returncode, missing.stderr) == (1, "story #9999: no such story\n")
