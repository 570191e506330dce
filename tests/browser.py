"""Headless Chromium for the console's browser tests: Debian's `chromium` and `chromium-driver`
(installed with apt when missing and allowed, as `.ci/run` does), driven by Selenium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _ensure_installed() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
                       check=False, capture_output=True, timeout=900)
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        raise RuntimeError("the browser tests need Debian's chromium and chromium-driver: "
                           "apt-get install chromium chromium-driver")


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    _ensure_installed()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--lang=fr-FR"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
