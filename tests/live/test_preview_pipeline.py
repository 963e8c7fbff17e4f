"""The live preview through the real pipeline: a click in Chromium becomes a tracked object."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from streamseg.testing.clips import disc_clip, iou, stream_chunks

pytest.importorskip("selenium.webdriver")

from streamseg.testing.browser import (  # noqa: E402
    MISSING,
    SKIP_REASON,
    click_source,
    headless_chromium,
    open_preview,
    shown_frame,
)

pytestmark = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)

from helpers import CLI  # noqa: E402


def test_click_in_browser_segments_the_object_in_the_output(tmp_path: Path) -> None:
    frames, masks = disc_clip(600, 320, 240, wobble=0)  # up to 20 s at 30 fps
    chunks = stream_chunks(frames, fps=30)
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [*CLI, "run", "-", "--preview", "127.0.0.1:0", "--model", "classic", "--out", str(out)],
        stdin=subprocess.PIPE,
        bufsize=0,  # unbuffered: each chunk reaches the pipe when a camera would send it
        stderr=subprocess.PIPE,
        text=False,
    )
    log: list[str] = []
    url_seen = threading.Event()
    sent, stop_at = [0], [len(chunks)]  # chunks written; where the camera stops

    def read_log() -> None:
        for line in iter(proc.stderr.readline, b""):
            log.append(line.decode(errors="replace"))
            if "preview at" in log[-1]:
                url_seen.set()

    def feed() -> None:
        # The camera starts once the page can be opened and stops 3 s after the click
        # (or at the clip's end): a loaded machine may take long to start streamseg or
        # Chromium, and the test is about the click, not about how fast they start.
        try:
            if url_seen.wait(120):
                start = time.monotonic()
                while sent[0] < min(stop_at[0], len(chunks)):
                    time.sleep(max(0.0, start + sent[0] / 30 - time.monotonic()))
                    proc.stdin.write(chunks[sent[0]])
                    sent[0] += 1
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    threading.Thread(target=read_log, daemon=True).start()
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    assert url_seen.wait(120), "".join(log)
    url = re.search(r"preview at (\S+)", "".join(log)).group(1)
    with headless_chromium(tmp_path / "profile") as driver:
        open_preview(driver, url, frames=3)
        shown = shown_frame(driver)
        ys, xs = np.nonzero(masks[shown])
        click_source(driver, float(xs.mean()), float(ys.mean()))
        clicked_at = shown
        stop_at[0] = sent[0] + 150  # 5 s more of the camera: the object tracked after
    writer.join(timeout=120)
    proc.wait(timeout=120)
    assert proc.returncode == 0, "".join(log)
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert [o["id"] for o in g.attrs["objects"]] == [1]
    assert g.attrs["objects"][0]["prompts"][0]["via"] == "preview"
    present = g["present"][:, 0]
    index = g["frame_index"][:]
    first = index[np.argmax(present)]
    prompt = g.attrs["objects"][0]["prompts"][0]
    x, y = prompt["points"][0]
    assert masks[prompt["frame"]][int(y), int(x)], (prompt, clicked_at)  # the click hit it
    assert present.any(), (prompt, index.tolist(), "".join(log))
    assert first >= clicked_at  # N grew from the clicked frame on
    assert not present[index < clicked_at].any()
    # the object is segmented from then on
    later = [t for t in range(len(index)) if present[t]][-10:]
    scores = [iou(g["masks"][t, 0], masks[index[t]]) for t in later]
    assert min(scores) > 0.6, scores
