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


class RecordingTracker:
    """A stand-in tracker fed by the run's real ObjectRegistry (``registry``), as the
    session feeds its tracker between frames: it records the prompts and removals asked
    for (the preview's clicks), handed over whenever ``prompts`` or ``removed`` is read.
    ``stats``: what the preview's status line shows."""

    objects: list[int] = []  # nothing tracked yet: prompts are passed on as they are

    def __init__(self, stats: dict[str, Any] | None = None) -> None:
        import threading

        from streamseg.objects import ObjectRegistry

        self.registry = ObjectRegistry()
        self.stats = stats or {"fps": 12.5, "latency_p50": 0.08, "latency_p95": 0.12, "dropped": 3}
        self._prompts: list[Any] = []
        self._removed: list[int] = []
        self._lock = threading.Lock()

    def track(self, object_id: int) -> Any:
        raise AssertionError("not tracking anything")

    def add_prompts(self, prompts: list[Any]) -> None:
        self._prompts += prompts

    def remove_object(self, object_id: int) -> None:
        self._removed.append(object_id)

    def _drain(self) -> None:
        with self._lock:
            self.registry.apply(self, 0)

    @property
    def prompts(self) -> list[Any]:
        self._drain()
        return self._prompts

    @property
    def removed(self) -> list[int]:
        self._drain()
        return self._removed

    def status(self) -> dict[str, Any]:
        return dict(self.stats)
