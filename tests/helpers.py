"""Helpers shared by the tests: the real command line in a subprocess, a tracker loop."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

CLI = [sys.executable, "-c", "from streamseg.cli import main; main()"]


def streamseg(
    *args: Any, input: bytes | None = None, timeout: float = 120, cwd: Any = None
) -> subprocess.CompletedProcess:
    """Run `streamseg ARGS...` (in folder ``cwd``); text output, or bytes when ``input``
    (stdin) is given."""
    return subprocess.run(
        [*CLI, *map(str, args)],
        input=input,
        capture_output=True,
        text=input is None,
        timeout=timeout,
        cwd=cwd,
    )


def frames_written(out: Any) -> int:
    """OUT/masks.zarr's frames_written so far; -1 before the store exists."""
    import zarr

    try:
        return zarr.open_group(str(out / "masks.zarr"), mode="r").attrs["frames_written"]
    except Exception:  # noqa: BLE001 - not created yet
        return -1


def track(tracker: Any, frames: list, start: int = 0) -> list:
    """Step ``tracker`` over RGB ``frames`` numbered from ``start``; its FrameResults."""
    from streamseg.types import Frame

    out = []
    for i, image in enumerate(frames, start):
        frame = Frame(index=i, pts=i, time=float(i), image=image)
        out.append(tracker.step(frame, tracker.engine.embed([image])[0]))
    return out
