"""Apprise's real plugins against local servers: json:// to an HTTP catcher, mailto:// to aiosmtpd."""

import io
import json

from monitor.notify import Notifier, masked, scrub
from tests.servers import Mailbox, Site, free_port

BODY = "**Règle :** r (Tomahawk)\n**Source :** Le Monde\n\n> des missiles **Tomahawk**\n\nhttps://x.fr/a"


def test_console_channel_prints_the_alert() -> None:
    out = io.StringIO()
    assert Notifier({}, out=out).send("console", "Titre", BODY).ok
    assert out.getvalue() == f"\n== Titre\n{BODY}\n"


def test_json_channel_posts_title_and_markdown_body(site: Site) -> None:
    hook = f"json://127.0.0.1:{site.base.rsplit(':', 1)[1]}/hook"
    result = Notifier({"ops": [hook]}).send("ops", "Titre é", BODY)
    assert result.ok, result.error
    (request,) = site.got("POST", "/hook")
    payload = json.loads(request.body)
    assert (payload["title"], payload["message"], payload["type"]) == ("Titre é", BODY, "info")


def test_mail_channel_sends_html(mailbox: Mailbox) -> None:
    result = Notifier({"mail": [mailbox.url()]}).send("mail", "Titre", BODY)
    assert result.ok, result.error
    (message,) = mailbox.messages
    assert message["Subject"] == "Titre" and message["From"] == "monitor@example.org"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<strong>Tomahawk</strong>" in html and "https://x.fr/a" in html


def test_one_channel_many_urls(site: Site, mailbox: Mailbox) -> None:
    hook = f"json://127.0.0.1:{site.base.rsplit(':', 1)[1]}/hook"
    assert Notifier({"all": [hook, mailbox.url()]}).send("all", "T", BODY).ok
    assert len(site.got("POST", "/hook")) == 1 and len(mailbox.messages) == 1


def test_a_dead_service_fails_with_a_reason_and_no_secret() -> None:
    url = f"json://user:s3cretpassw0rd@127.0.0.1:{free_port()}/hook?token=T0KEN-abcdef"
    result = Notifier({"ops": [url]}, timeout=5).send("ops", "T", BODY)
    assert not result.ok
    assert result.error and "127.0.0.1" in result.error
    assert "s3cretpassw0rd" not in result.error and "T0KEN-abcdef" not in result.error


def test_unknown_channel() -> None:
    result = Notifier({}).send("nowhere", "T", BODY)
    assert not result.ok and "not configured" in result.error


def test_masked_and_scrub() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456"
    shown = masked(url)
    assert shown.startswith("tgram://") and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in shown
    leaked = "POST failed for bot AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    assert "AAHdqTcv" not in scrub(leaked, [url])
    assert masked("nonsense://x") == "nonsense://…"
