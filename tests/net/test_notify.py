"""Apprise's real plugins: json:// to an HTTP catcher, mailto:// to aiosmtpd, an Apprise config
file with tags; Slack and Telegram (unreachable here) through Apprise's own HTTP layer, answered
by `responses`, asserting the exact request Apprise sends."""

import io
import json
from pathlib import Path
from urllib.parse import parse_qs

import responses

from monitor.config.channels import ChannelConfig
from monitor.core.secrets import masked, scrub
from monitor.core.templates import SAMPLE, render
from monitor.net.notify import Notifier, default_format
from tests.servers import Mailbox, Site, free_port

BODY = render(SAMPLE, "markdown")


def hook(site: Site, path: str = "/hook") -> str:
    return f"json://{site.base.split('//')[1]}{path}"


def notifier(base: Path = Path("."), **channels) -> Notifier:
    return Notifier({name: ChannelConfig.model_validate(value) for name, value in channels.items()},
                    base=base, timeout=10)


def test_console_channel_prints_the_alert() -> None:
    out = io.StringIO()
    assert Notifier({}, out=out).send("console", "Titre", BODY).ok
    assert out.getvalue() == f"\n== Titre\n{BODY}\n"


def test_json_channel_posts_title_and_body(site: Site) -> None:
    result = notifier(ops=hook(site)).send("ops", "Titre é", "Un corps", "text", "high")
    assert result.ok, result.error
    (request,) = site.got("POST", "/hook")
    payload = json.loads(request.body)
    assert (payload["title"], payload["message"], payload["type"]) == \
        ("Titre é", "Un corps", "warning")  # high priority → Apprise's warning type


def test_mail_channel_sends_html(mailbox: Mailbox) -> None:
    body = render(SAMPLE, "html")
    result = notifier(mail=mailbox.url()).send("mail", "Titre", body, "html")
    assert result.ok, result.error
    (message,) = mailbox.messages
    assert message["Subject"] == "Titre" and message["From"] == "monitor@example.org"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<strong>Tomahawk</strong>" in html
    assert f'<a href="{SAMPLE["url"]}">' in html


def test_one_channel_many_urls(site: Site, mailbox: Mailbox) -> None:
    assert notifier(all=[hook(site), mailbox.url()]).send("all", "T", BODY, "markdown").ok
    assert len(site.got("POST", "/hook")) == 1 and len(mailbox.messages) == 1


def test_apprise_config_file_with_tags(tmp_path: Path, site: Site) -> None:
    (tmp_path / "apprise.yml").write_text(
        f"urls:\n  - {hook(site, '/veille')}:\n      tag: veille\n"
        f"  - {hook(site, '/autre')}:\n      tag: autre\n")
    channels = notifier(tmp_path, team={"config": "apprise.yml", "tag": "veille"})
    assert channels.send("team", "T", "corps", "text").ok
    assert [r.path for r in site.got("POST")] == ["/veille"]


def test_a_dead_service_fails_with_a_reason_and_no_secret() -> None:
    url = f"json://user:s3cretpassw0rd@127.0.0.1:{free_port()}/hook?token=T0KEN-abcdef"
    result = notifier(ops=url).send("ops", "T", BODY)
    assert not result.ok
    assert result.error and "127.0.0.1" in result.error
    assert "s3cretpassw0rd" not in result.error and "T0KEN-abcdef" not in result.error


def test_unknown_channel() -> None:
    result = Notifier({}).send("nowhere", "T", BODY)
    assert not result.ok and "not configured" in result.error


def test_channel_test_reports_each_url(site: Site) -> None:
    dead = f"json://127.0.0.1:{free_port()}/x"
    results = notifier(ops=[hook(site), dead]).test("ops")
    assert [(shown.split("?")[0], result.ok) for shown, result in results] == \
        [(hook(site), True), (dead, False)]
    (post,) = site.got("POST", "/hook")
    assert json.loads(post.body)["title"] == "monitor : test"


@responses.activate
def test_slack_gets_the_markdown_alert_as_apprise_sends_it() -> None:
    responses.add(responses.POST, "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/"
                  "TIiajkdnlazkcOXrIdevi7FQ", body="ok")
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#veille"
    channels = notifier(slack=url)
    assert channels.format_of("slack") == "markdown"
    assert channels.send("slack", SAMPLE["title"], BODY, "markdown", "high").ok
    (call,) = responses.calls
    sent = json.loads(call.request.body)
    assert sent["channel"] == "#veille"
    attachment = sent["attachments"][0]
    assert attachment["title"] == SAMPLE["title"]
    # Apprise turns Markdown into Slack's mrkdwn: bold is *one star*, links stay links.
    assert "*Tomahawk*" in attachment["text"] and "**" not in attachment["text"]
    assert SAMPLE["url"] in attachment["text"]


@responses.activate
def test_telegram_gets_the_alert_as_apprise_sends_it() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    responses.add(responses.POST, f"https://api.telegram.org/bot{token}/sendMessage",
                  json={"ok": True, "result": {}})
    channels = notifier(telegram=f"tgram://{token}/-100123456")
    assert channels.format_of("telegram") == "markdown"
    assert channels.send("telegram", SAMPLE["title"], BODY, "markdown").ok
    (call,) = [c for c in responses.calls if c.request.url.endswith("/sendMessage")]
    sent = json.loads(call.request.body)
    assert (sent["chat_id"], sent["parse_mode"]) == (-100123456, "MARKDOWN")
    assert sent["text"].startswith(f"*{SAMPLE['title']}*\n*Priorité haute*\n")
    assert "> … des missiles *Tomahawk* à l’*Ukraine* …" in sent["text"]


def test_default_formats() -> None:
    assert default_format(["mailtos://u:p@smtp.example.org"]) == "html"
    assert default_format(["slack://a/b/c", "tgram://a/b"]) == "markdown"
    assert default_format(["json://x/y"]) == "text"


def test_masked_and_scrub() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456"
    shown = masked(url)
    assert shown.startswith("tgram://") and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in shown
    leaked = "POST failed for bot AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    assert "AAHdqTcv" not in scrub(leaked, [url])
    assert masked("nonsense://x") == "nonsense://…"


def test_form_channel_posts_a_form(site: Site) -> None:
    url = f"form://{site.base.split('//')[1]}/form"
    assert notifier(forms=url).send("forms", "Titre", "Un corps", "text").ok
    (request,) = site.got("POST", "/form")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = parse_qs(request.body.decode())
    assert (fields["title"], fields["message"]) == (["Titre"], ["Un corps"])
