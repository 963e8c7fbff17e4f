"""The live preview in a real browser: headless Chromium loads the page, watches frames
arrive, and clicks on a moving disc; the click must reach the pipeline as a prompt
inside the disc, on a frame the page showed.

Needs Debian's ``chromium`` and ``chromium-driver`` (or $STREAMSEG_CHROMIUM and
$STREAMSEG_CHROMEDRIVER) and the ``selenium`` package; skipped without them. The
helpers (``headless_chromium``, ``DiscPublisher``, ``open_preview``, ``click_source``,
``wait_until``) are meant to be reused by end-to-end tests through the real pipeline.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamseg.live import PreviewServer
from streamseg.types import Prompt

webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

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
# Modules reusing the helpers below put this mark on their own tests too.
needs_browser = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)
pytestmark = needs_browser


# -- reusable helpers --------------------------------------------------------------------


@contextmanager
def headless_chromium(profile: Path) -> Iterator[Any]:
    """A Selenium WebDriver for headless Chromium with a fresh profile in ``profile``;
    skips the calling test when chromium or chromedriver is missing."""
    if MISSING:
        pytest.skip(SKIP_REASON)
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


class DiscPublisher:
    """Publishes frames of a red disc moving slowly on a circle, from its own thread.

    ``disc(index)`` says where the disc is on frame ``index``: (cx, cy, radius).
    """

    def __init__(
        self,
        publish: Callable[[int, np.ndarray], None],
        size: tuple[int, int] = (320, 240),
        radius: int = 30,
        fps: float = 25.0,
    ) -> None:
        self.publish, self.size, self.radius, self.fps = publish, size, radius, fps
        width, height = size
        self._yy, self._xx = np.mgrid[:height, :width]
        self._background = np.full((height, width, 3), (40, 70, 50), np.uint8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disc-publisher", daemon=True)

    def disc(self, index: int) -> tuple[float, float, float]:
        width, height = self.size
        # at most ~0.5 px per frame: a click lands on the disc it was aimed at even when
        # a loaded machine lets the page show many frames between aiming and clicking
        angle = index / 120
        return (
            width / 2 + width / 5 * math.cos(angle),
            height / 2 + height / 6 * math.sin(angle),
            self.radius,
        )

    def image(self, index: int) -> np.ndarray:
        cx, cy, r = self.disc(index)
        frame = self._background.copy()
        frame[(self._xx - cx) ** 2 + (self._yy - cy) ** 2 <= r * r] = (220, 60, 40)
        return frame

    def _run(self) -> None:
        index = 0
        while not self._stop.wait(1 / self.fps):
            self.publish(index, self.image(index))
            index += 1

    def __enter__(self) -> DiscPublisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class FakePipeline:
    """Callbacks standing in for the pipeline: lists every object prompted, until removed."""

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []
        self.removed: list[int] = []
        self._lock = threading.Lock()

    def on_prompt(self, prompt: Prompt) -> None:
        with self._lock:
            self.prompts.append(prompt)

    def on_remove(self, object_id: int) -> None:
        with self._lock:
            self.removed.append(object_id)

    def status(self) -> dict[str, Any]:
        return {"fps": 25.0, "latency_p50": 0.04, "latency_p95": 0.06, "dropped": 0}

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            ids = sorted({p.object_id for p in self.prompts} - set(self.removed))
        return [{"id": i, "name": f"object {i}", "status": "tracking"} for i in ids]


# -- the test ----------------------------------------------------------------------------


def test_click_in_the_browser_becomes_a_prompt(tmp_path: Path) -> None:
    pipeline = FakePipeline()
    server = PreviewServer(
        port=0,
        on_prompt=pipeline.on_prompt,
        on_remove=pipeline.on_remove,
        status=pipeline.status,
        objects=pipeline.objects,
    )
    with server, DiscPublisher(server.publish) as disc, headless_chromium(tmp_path) as driver:
        seen = open_preview(driver, server.url)
        assert seen == sorted(seen) and len(set(seen)) == len(seen)

        # Click: a new object where the disc is on the frame shown.
        before = shown_frame(driver)
        cx, cy, r = disc.disc(before)
        click_source(driver, cx, cy)
        wait_until(lambda: pipeline.prompts, 10, "the click's prompt")
        after = shown_frame(driver)
        prompt = pipeline.prompts[0]
        assert prompt.object_id == 1 and prompt.labels.tolist() == [1]
        assert before <= prompt.frame <= after  # the frame the page showed when clicked
        x, y = prompt.points[0]
        assert math.hypot(x - cx, y - cy) < 2, (x, y, cx, cy)  # display -> source pixels
        px, py, _ = disc.disc(prompt.frame)
        assert math.hypot(x - px, y - py) < r, "the point is on the disc of the frame sent"

        # The new object appears in the panel, selected.
        wait_until(
            lambda: driver.find_elements(By.CSS_SELECTOR, "#objects li.selected[data-id='1']"),
            10,
            "object 1 selected in the objects panel",
        )

        # Shift-click adds a positive point to it, alt-click a negative one.
        frame = shown_frame(driver)
        cx, cy, r = disc.disc(frame)
        click_source(driver, cx + r / 2, cy, Keys.SHIFT)
        wait_until(lambda: len(pipeline.prompts) == 2, 10, "the shift-click's prompt")
        click_source(driver, 10, 10, Keys.ALT)
        wait_until(lambda: len(pipeline.prompts) == 3, 10, "the alt-click's prompt")
        positive, negative = pipeline.prompts[1:]
        assert (positive.object_id, positive.labels.tolist()) == (1, [1])
        np.testing.assert_allclose(positive.points[0], [cx + r / 2, cy], atol=2)
        assert (negative.object_id, negative.labels.tolist()) == (1, [0])
        np.testing.assert_allclose(negative.points[0], [10, 10], atol=2)

        # The remove button removes it.
        driver.find_element(By.CSS_SELECTOR, "#objects li[data-id='1'] button.remove").click()
        wait_until(lambda: pipeline.removed == [1], 10, "object 1 removed")
        wait_until(
            lambda: not driver.find_elements(By.CSS_SELECTOR, "#objects li"),
            10,
            "an empty objects panel",
        )
        assert "fps" in driver.find_element(By.ID, "status").text
        assert shown_frame(driver) > seen[-1]  # frames kept coming throughout
        assert console_errors(driver) == []
