"""Headless Chromium on the preview page, for tests and scripts (needs ``selenium``).

``headless_chromium`` starts Debian's ``chromium`` through ``chromium-driver`` (or
$STREAMSEG_CHROMIUM and $STREAMSEG_CHROMEDRIVER) with a fresh profile and nothing in
the background that would reach a network; ``open_preview`` waits for frames to
arrive; ``shown_frame``, ``click_source``, ``wait_until`` and ``console_errors`` drive
and read the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get("STREAMSEG_CHROMIUM") or shutil.which("chromium")
CHROMEDRIVER = os.environ.get("STREAMSEG_CHROMEDRIVER") or shutil.which("chromedriver")
# The machine running the tests may have no network: nothing in the background may
# try to reach one (updates, sync, QUIC probes), and the profile is a fresh folder.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,760",
]

MISSING = ", ".join(
    name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path
)
SKIP_REASON = (
    f"headless browser test: {MISSING} not found; install Debian's chromium and "
    "chromium-driver (apt-get), or set $STREAMSEG_CHROMIUM and $STREAMSEG_CHROMEDRIVER"
)


@contextmanager
def headless_chromium(profile: Path) -> Iterator[Any]:
    """A Selenium WebDriver for headless Chromium with a fresh profile in ``profile``."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for console_errors
    # With an explicit driver path Selenium does not run Selenium Manager (no download).
    service = webdriver.ChromeService(
        executable_path=str(CHROMEDRIVER), log_output=subprocess.DEVNULL
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)  # generous: a loaded machine
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The page's console errors so far (failed loads, CSP violations, exceptions)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def shown_frame(driver: Any) -> int:
    """The index of the frame the page shows (-1 before the first)."""
    text = driver.find_element(By.ID, "frame-index").text.strip()
    return int(text) if text.lstrip("-").isdigit() else -1


def open_preview(driver: Any, url: str, frames: int = 3, timeout: float = 60) -> list[int]:
    """Load the page and wait until it has shown ``frames`` increasing frame indices."""
    driver.get(url)
    seen: list[int] = []

    def advanced() -> bool:
        index = shown_frame(driver)
        if index >= 0 and (not seen or index > seen[-1]):
            seen.append(index)
        return len(seen) >= frames

    wait_until(advanced, timeout, f"{frames} frames on the page (saw {seen})")
    return seen


def click_source(driver: Any, x: float, y: float, modifier: str | None = None) -> None:
    """Click the canvas at source pixel (x, y), holding ``modifier`` (Keys.SHIFT, Keys.ALT)."""
    canvas = driver.find_element(By.ID, "view")
    width, height = driver.execute_script(
        "const c = arguments[0]; return [c.width, c.height];", canvas
    )
    shown = canvas.size  # CSS pixels: the page scales the frame to fit
    # Selenium offsets are from the element's centre, in whole CSS pixels.
    dx = round(x * shown["width"] / width - shown["width"] / 2)
    dy = round(y * shown["height"] / height - shown["height"] / 2)
    actions = ActionChains(driver)
    if modifier:
        actions.key_down(modifier)
    actions.move_to_element_with_offset(canvas, dx, dy).click()
    if modifier:
        actions.key_up(modifier)
    actions.perform()
