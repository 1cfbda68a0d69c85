"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromedriver) logs in, composes,
previews, schedules, cancels, retries and reschedules against ``crosspost serve`` with the sandbox, at desktop and phone
widths, and writes screenshots to build/screenshots/ (``CROSSPOST_SCREENSHOTS=docs/screenshots`` refreshes the ones
the README shows). Without Chromium: skipped locally, failed in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot import platforms
from bot.sandbox import Sandbox
from tests.conftest import ROOT
from tests.test_serve_e2e import _free_port

SHOTS = ROOT / os.environ.get("CROSSPOST_SCREENSHOTS", "build/screenshots")
PASSWORD = "browser-test-password"
ARTICLE = """---
title: Microsoft and OpenAI rewrite their partnership
url: https://blog.example.com/2026/partnership
tags: [Microsoft, OpenAI, ArtificialIntelligence, CloudComputing, MachineLearning, Partnerships, Azure, Antitrust]
image: https://blog.example.com/cover.png
image_alt: Two company logos side by side
---
Microsoft and OpenAI amended their partnership. The exclusivity clause is gone, and OpenAI may now run on other
clouds.

The decision was announced on Monday. Both firms said the change was mutual and good for customers.

Analysts expect other cloud providers to court OpenAI quickly, and regulators to watch closely.
"""


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    with Sandbox(seed=7) as sandbox:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_"))}
        env.update(sandbox.env())
        env.update({"DATABASE_URL": f"sqlite:///{tmp / 'serve.db'}", "CROSSPOST_WEBHOOK_SECRET": "s" * 32,
                    "CROSSPOST_DASHBOARD_PASSWORD": PASSWORD, "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1"})
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except OSError:
                    time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed (.ci/run installs them)")
        pytest.skip("chromium/chromedriver not installed: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="crosspost-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait_for(driver: Any, css: str) -> None:
    """Until the page that a click loads shows ``css`` (a form post navigates; the click may return first)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _width(driver: Any, width: int) -> None:
    driver.set_window_size(width, 900)


def _shot(driver: Any, name: str) -> None:
    """A full-page screenshot: the window fitted to the page's height (plus the browser's own chrome), not left
    as tall as the last one; measured again after each resize, as the page reflows at a new height."""
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, 600)
    for _ in range(4):
        page, inner, outer = driver.execute_script(
            "return [Math.min(document.documentElement.scrollHeight, 4000), window.innerHeight, window.outerHeight]")
        if inner >= page:
            break
        driver.set_window_size(width, int(page) + int(outer) - int(inner))
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _no_horizontal_scroll(driver: Any) -> None:
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the window"


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_in_a_real_browser(server: str, browser: Any, width: int) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    _width(d, width)
    d.delete_all_cookies()
    d.get(f"{server}/queue")
    assert d.current_url.endswith("/login")
    _shot(d, f"login-{width}")
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login").click()
    _wait_for(d, "#compose")
    assert d.find_element(By.ID, "compose")

    text = d.find_element(By.ID, "text")
    d.execute_script("arguments[0].value = arguments[1]", text, ARTICLE)
    for box in d.find_elements(By.CSS_SELECTOR, "input[name=target]"):
        if not box.is_selected():
            box.click()
    d.find_element(By.ID, "preview").click()
    _wait_for(d, "section.target, .error")
    errors = d.find_elements(By.CSS_SELECTOR, ".error")
    assert not errors, errors[0].text
    sections = d.find_elements(By.CSS_SELECTOR, "section.target")
    assert [s.get_attribute("data-platform") for s in sections] == list(platforms.names())
    counts = [c.text for c in d.find_elements(By.CSS_SELECTOR, "[data-count]")]
    assert counts and all(" / " in c for c in counts)
    card = d.find_element(By.CSS_SELECTOR, "section.bluesky [data-card]")
    assert card.is_displayed() and "rewrite their partnership" in card.text
    dropped = d.find_element(By.CSS_SELECTOR, "section.x [data-dropped]")
    assert dropped.is_displayed() and "#" in dropped.text
    _no_horizontal_scroll(d)
    _shot(d, f"compose-preview-{width}")

    d.execute_script("document.getElementById('at').value = '2031-01-02T09:30'; "
                     "document.getElementById('tz').value = 'Europe/Paris';")
    d.find_element(By.ID, "schedule").click()
    _wait_for(d, "#notice, .error")
    notice = d.find_element(By.ID, "notice").text
    assert "queued at 2031-01-02 08:30 UTC" in notice
    job_id = notice.split()[1]

    d.get(f"{server}/queue")
    row = d.find_element(By.CSS_SELECTOR, f"tr[data-job='{job_id}']")
    row.find_element(By.XPATH, ".//button[text()='Cancel']").click()
    _wait_for(d, "#notice")
    assert "cancelled" in d.find_element(By.ID, "notice").text
    row = d.find_element(By.CSS_SELECTOR, f"tr[data-job='{job_id}']")
    assert "cancelled" in row.text
    row.find_element(By.XPATH, ".//button[text()='Retry']").click()
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 20).until(expected_conditions.text_to_be_present_in_element((By.ID, "notice"), "queued again"))

    row = d.find_element(By.CSS_SELECTOR, f"tr[data-job='{job_id}']")
    row.find_element(By.LINK_TEXT, "Reschedule").click()
    _wait_for(d, "#reschedule")
    from selenium.webdriver.support.ui import Select

    zone = Select(d.find_element(By.ID, "tz"))
    assert len(zone.options) > 100 and zone.first_selected_option.text  # the browser's zone, or UTC
    zone.select_by_visible_text("Europe/Paris")
    d.execute_script("document.getElementById('at').value = '2031-03-04T10:00';")
    _no_horizontal_scroll(d)
    _shot(d, f"reschedule-{width}")
    d.find_element(By.ID, "move").click()
    WebDriverWait(d, 20).until(expected_conditions.text_to_be_present_in_element((By.ID, "notice"), "rescheduled"))
    assert "2031-03-04 10:00 Europe/Paris (2031-03-04 09:00 UTC)" in d.find_element(By.ID, "notice").text
    row = d.find_element(By.CSS_SELECTOR, f"tr[data-job='{job_id}']")
    assert row.find_element(By.CSS_SELECTOR, "td[data-label='Due']").text == "2031-03-04 09:00"
    _no_horizontal_scroll(d)
    _shot(d, f"queue-{width}")

    for page in ("posts", "health"):
        d.get(f"{server}/{page}")
        assert d.find_element(By.TAG_NAME, "h1").text == page.capitalize()
        _no_horizontal_scroll(d)
        _shot(d, f"{page}-{width}")
    workers = d.find_element(By.ID, "workers").text  # serve runs a worker, and it says so
    assert "running" in workers and "last seen" in workers and not d.find_elements(By.ID, "no-worker")
