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
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import RecordingTracker

from streamseg.live import PreviewServer
from streamseg.testing.browser import (
    MISSING,
    SKIP_REASON,
    click_source,
    console_errors,
    headless_chromium,
    open_preview,
    shown_frame,
    wait_until,
)

webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

pytestmark = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)


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


# -- the test ----------------------------------------------------------------------------


def test_click_in_the_browser_becomes_a_prompt(tmp_path: Path) -> None:
    pipeline = RecordingTracker(
        {"fps": 25.0, "latency_p50": 0.04, "latency_p95": 0.06, "dropped": 0}
    )
    server = PreviewServer(
        port=0,
        registry=pipeline.registry,
        status=pipeline.status,
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
