"""The console in a real browser (headless Chromium) against `monitor run` fed by local feed and
page servers: click through feed → item → story, mute it and back, test a rule, retry a dead
alert, log in, and see a hostile feed title shown as text. Screenshots of each page go to the
test's temp dir."""

from __future__ import annotations

import json
import time
import urllib.request
from html import escape
from pathlib import Path

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from monitor.web.auth import FIRST_WAIT, hash_password
from tests.browser import chromium
from tests.e2e.helpers import Daemon, write_config
from tests.servers import Route, Site, free_port, wait_for

HOSTILE = "<script>document.title='pwned'</script> Tempête à Brest"
RULES = """rules:
  - name: ukraine
    any: [Ukraine]
    notify: [team]
  - name: tempete
    any: [tempête]
    notify: [archive]
"""


def _feed(site: Site, outlet: str, items: list[tuple[str, str]]) -> str:
    """RSS whose titles are escaped twice, as some feeds do: feedparser's sanitiser lets such a
    title through as text, `<script>` and all."""
    entries = "".join(
        f"<item><title>{escape(escape(title))}</title>"
        f"<link>{site.url(path)}</link><guid>{site.url(path)}</guid>"
        f"<pubDate>Wed, 02 Dec 2026 08:00:00 GMT</pubDate>"
        f"<description>{escape(title)}</description></item>"
        for title, path in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{outlet}</title><link>{site.base}</link><description>x</description>"
            f"{entries}</channel></rss>")


def _page(title: str, text: str) -> bytes:
    paragraphs = "".join(f"<p>{text} Paragraphe {n} de l'article.</p>" for n in range(6))
    return (f"<html><head><title>x</title></head><body><article><h1>x</h1>{paragraphs}"
            f"</article></body></html>").encode()


def serve(site: Site) -> list[dict]:
    html = "text/html; charset=utf-8"
    site.routes["/quotidien.xml"] = Route(_feed(site, "Le Quotidien", [
        ("Missiles pour l'Ukraine", "/q/ukraine"), (HOSTILE, "/q/tempete")]).encode())
    site.routes["/gazette.xml"] = Route(_feed(site, "La Gazette", [
        ("L'Ukraine recevra des missiles", "/g/ukraine")]).encode())
    ukraine = "Les missiles de croisière destinés à l'Ukraine arriveront avant l'hiver à Kiev."
    site.routes["/q/ukraine"] = Route(_page("Missiles", ukraine), content_type=html)
    site.routes["/g/ukraine"] = Route(_page("Missiles", ukraine), content_type=html)
    site.routes["/q/tempete"] = Route(_page("Tempête", "La tempête frappe Brest ce matin."),
                                      content_type=html)
    return [{"name": "Le Quotidien", "url": site.url("/quotidien.xml")},
            {"name": "La Gazette", "url": site.url("/gazette.xml")}]


def start(tmp_path: Path, site: Site, **http: object) -> tuple[Daemon, str]:
    """`monitor run` with its console; channel `archive` never answers and alerts live 1 s
    there: its alert is dead at its first failure."""
    port = free_port()
    path = write_config(
        tmp_path, serve(site),
        {"team": f"json://{site.base.split('//')[1]}/hook",
         "archive": f"json://127.0.0.1:{free_port()}/nobody-listens"},
        ["team"], RULES, http={"listen": f"127.0.0.1:{port}", **http})
    path.write_text(path.read_text().replace("notify:\n", "notify:\n  max_age: 1s\n", 1))
    return Daemon(path), f"http://127.0.0.1:{port}"


def api(base: str, path: str, token: str | None = None) -> dict:
    request = urllib.request.Request(base + path, headers={
        "Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def go(driver: WebDriver, element: WebElement) -> None:
    """Click a link or a button and wait for the next page to replace this one. (Chromium may
    answer a question about the old page's element, asked while the new one arrives, with
    "Node … does not belong to the document" rather than "stale": gone all the same.)"""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(driver: WebDriver) -> bool:
        try:
            return bool(staleness_of(page)(driver))
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise

    WebDriverWait(driver, 15).until(replaced)


def text_of(driver: WebDriver, element_id: str) -> str:
    try:
        return str(driver.find_element(By.ID, element_id).text)
    except WebDriverException:  # the page was reloading
        return ""


def shot(driver: WebDriver, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(folder / f"{name}.png"))


def wait_until_alerted(daemon: Daemon, base: str, token: str | None = None) -> None:
    """Until the three articles are completed and the alerts sent or dead. (The first feed's
    headline may go out before the second feed's copy is completed: completion starts as soon
    as a poll stores items.)"""
    def ready() -> bool:
        assert daemon.alive(), daemon.log()[-3000:]
        try:
            states = {a["state"] for a in api(base, "/api/alertes", token)["alerts"]}
            stories = api(base, "/api/sujets", token)["stories"]
        except OSError:
            return False
        return {"sent", "dead"} <= states and sum(s["articles"] for s in stories) == 3
    wait_for(ready, timeout=90)


def test_click_through_the_console(tmp_path: Path, site: Site) -> None:
    daemon, base = start(tmp_path, site)
    try:
        wait_until_alerted(daemon, base)
        with chromium() as driver:
            driver.get(base + "/")
            assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Flux")
            weeks = driver.find_elements(By.CSS_SELECTOR, "#feeds td.week svg")
            assert len(weeks) == 2  # each feed's polls of the week, drawn
            shot(driver, tmp_path, "flux")
            go(driver, driver.find_element(By.LINK_TEXT, "Le Quotidien"))
            assert driver.find_element(By.TAG_NAME, "h1").text == "Le Quotidien"
            titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#items .title")]
            assert HOSTILE in titles  # shown as text…
            assert driver.title != "pwned"  # …never run
            shot(driver, tmp_path, "feed")
            row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")
                       if "Missiles pour l'Ukraine" in r.text)
            go(driver, row.find_element(By.CSS_SELECTOR, "a.story-link"))
            assert driver.find_element(By.ID, "story-title").text in (  # its first article's
                "Missiles pour l'Ukraine", "L'Ukraine recevra des missiles")
            outlets = driver.find_element(By.ID, "members").text
            assert "Le Quotidien" in outlets and "La Gazette" in outlets
            dots = driver.find_elements(By.CSS_SELECTOR, "#timeline svg circle")
            assert len(dots) == 2 and all(dot.is_displayed() for dot in dots)  # drawn, CSP or not
            shot(driver, tmp_path, "story")
            go(driver, driver.find_element(By.ID, "mute"))
            assert driver.find_element(By.ID, "muted").text == "en sourdine"
            assert "plus aucune alerte" in driver.find_element(By.ID, "notice").text
            shot(driver, tmp_path, "story-muted")
            go(driver, driver.find_element(By.ID, "mute"))  # and back
            assert not driver.find_elements(By.ID, "muted")

            go(driver, driver.find_element(By.LINK_TEXT, "Sujets"))
            assert len(driver.find_elements(By.CSS_SELECTOR, "#stories tbody tr")) == 2
            shot(driver, tmp_path, "stories")
            go(driver, driver.find_element(By.ID, "top-stories"))  # « À la une »: biggest first
            first = driver.find_element(By.CSS_SELECTOR, "#stories tbody tr").text
            assert "Ukraine" in first or "missiles" in first
            go(driver, driver.find_element(By.LINK_TEXT, "Règles"))
            assert "ukraine" in driver.find_element(By.ID, "rules").text
            shot(driver, tmp_path, "rules")

            go(driver, driver.find_element(By.LINK_TEXT, "Alertes"))
            dead = driver.find_element(By.CSS_SELECTOR, "tr.state-dead")
            dead_id = dead.get_attribute("id")
            assert HOSTILE in dead.text
            shot(driver, tmp_path, "alerts")
            go(driver, dead.find_element(By.CSS_SELECTOR, "button.retry"))
            assert "remise en file" in driver.find_element(By.ID, "notice").text
            shot(driver, tmp_path, "alert-retried")
            alert_id = int(dead_id.split("-")[1])
            retried = next(a for a in api(base, "/api/alertes")["alerts"] if a["id"] == alert_id)
            assert retried["attempts"] >= 1 and retried["state"] in ("pending", "failed", "dead")

            go(driver, driver.find_element(By.LINK_TEXT, "Testeur"))
            driver.find_element(By.ID, "text").send_keys("Kiev attend des missiles pour "
                                                         "l’Ukraine.")
            go(driver, driver.find_element(By.ID, "run-tester"))
            marks = driver.find_elements(By.CSS_SELECTOR, "#field-text mark")
            assert [mark.text for mark in marks] == ["Ukraine"]
            assert "1 règle(s) sur 2 correspondent" in driver.find_element(By.ID, "result").text
            shot(driver, tmp_path, "tester")
            go(driver, driver.find_element(By.ID, "run-backtest"))
            wait_for(lambda: "Terminé" in text_of(driver, "progress"), 30)  # it reloads itself
            assert "Ukraine" in driver.find_element(By.ID, "backtest-stories").text
            shot(driver, tmp_path, "backtest")
        assert len(list((tmp_path / "screenshots").glob("*.png"))) == 10
    finally:
        daemon.stop()


def test_log_in_when_auth_is_on(tmp_path: Path, site: Site) -> None:
    token = "a-token-of-24-characters"
    daemon, base = start(tmp_path, site, auth={
        "password_hash": hash_password("correct horse battery"), "token": token})
    try:
        wait_until_alerted(daemon, base, token)
        with chromium() as driver:
            driver.get(base + "/alertes")
            assert driver.current_url == base + "/login?next=%2Falertes"
            driver.find_element(By.ID, "secret").send_keys("wrong")
            go(driver, driver.find_element(By.ID, "login"))
            assert driver.find_element(By.ID, "login-error").text == "mot de passe refusé"
            time.sleep(FIRST_WAIT)  # a client that failed is heard again after this wait
            driver.find_element(By.ID, "secret").send_keys("correct horse battery")
            go(driver, driver.find_element(By.ID, "login"))
            assert driver.current_url == base + "/alertes"
            assert driver.find_element(By.TAG_NAME, "h1").text == "Alertes"
            shot(driver, tmp_path, "logged-in")
            go(driver, driver.find_element(By.CSS_SELECTOR, ".logout button"))
            assert driver.current_url == base + "/login"
            driver.get(base + "/flux")
            assert driver.current_url == base + "/login?next=%2Fflux"
    finally:
        daemon.stop()
