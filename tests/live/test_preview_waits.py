"""The preview on a file: it holds the first frame until an object is clicked, and the page
can pause and play the run. Through the real command line and the real HTTP server."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from helpers import CLI

from streamseg.testing.clips import disc_video, iou


def start(args: list[Any]) -> tuple[subprocess.Popen, str, list[str]]:
    """Start ``streamseg run ARGS``; (process, preview URL, log lines so far)."""
    proc = subprocess.Popen([*CLI, "run", *map(str, args)], stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in iter(proc.stderr.readline, ""):
            log.append(line)
            if "preview at" in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    assert seen.wait(60), "".join(log)
    return proc, re.search(r"preview at (\S+)", "".join(log)).group(1), log


def call(url: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method="GET")
    if data is not None:
        request.method = "POST"
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for(predicate: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_file_waits_at_its_first_frame_for_the_first_click(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    masks = disc_video(path, n=24)
    out = tmp_path / "o"
    proc, url, log = start([path, "--preview", "127.0.0.1:0", "--model", "classic", "--out", out])
    try:
        status = wait_for(lambda: call(url, "/api/status").get("waiting"), "the hold")
        assert "first object" in status
        time.sleep(1.0)  # however long nobody clicks, the run holds
        status = call(url, "/api/status")
        assert status["waiting"] and status["preview"]["frame_index"] == 0
        assert proc.poll() is None and not (out / "masks.zarr").exists()
        ys, xs = np.nonzero(masks[0])
        body = {"frame": 0, "points": [[float(xs.mean()), float(ys.mean())]], "labels": [1]}
        assert call(url, "/api/prompts", body) == {"object": 1, "frame": 0, "new": True}
        assert proc.wait(timeout=120) == 0, "".join(log)
    finally:
        proc.kill()
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 24 and g.attrs["complete"] is True
    assert iou(g["masks"][0, 0], masks[0]) > 0.8  # the clicked frame itself is segmented
    assert g.attrs["objects"][0]["prompts"][0]["via"] == "preview"


def test_pause_and_play_from_the_page(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    masks = disc_video(path, n=240)
    out = tmp_path / "o"
    ys, xs = np.nonzero(masks[0])
    prompt = f"{int(xs.mean())},{int(ys.mean())}"
    proc, url, log = start(
        [path, "--prompt", prompt, "--preview", "127.0.0.1:0", "--model", "classic", "--out", out]
    )
    try:
        assert call(url, "/api/playback", {"paused": True}) == {"paused": True}
        time.sleep(0.5)  # a frame under way when the pause came may still finish
        before = call(url, "/api/status")
        time.sleep(1.0)
        after = call(url, "/api/status")
        assert before["paused"] and after["paused"] and not after["waiting"]
        assert after["frame_index"] == before["frame_index"] < 239  # nothing moved
        assert call(url, "/api/playback", {"paused": False}) == {"paused": False}
        assert proc.wait(timeout=180) == 0, "".join(log)
    finally:
        proc.kill()
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 240 and g.attrs["complete"] is True


def test_no_wait_runs_through(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    disc_video(path, n=12)
    out = tmp_path / "o"
    proc, url, log = start(
        [path, "--preview", "127.0.0.1:0", "--no-wait", "--model", "classic", "--out", out]
    )
    assert proc.wait(timeout=120) == 0, "".join(log)
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 12 and g["masks"].shape[1] == 0  # nothing to track
