"""Run statistics shared by the stages: frames, drops, latency percentiles, speed.

Memory is constant however long the stream runs: latency goes into a fixed
histogram (1 ms bins up to 60 s), not a list.
"""

from __future__ import annotations

import threading
import time

import numpy as np

BIN_SECONDS = 0.001
BINS = 60_000


class RunStats:
    """Counters updated by the pipeline and read by sinks and the preview (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histogram = np.zeros(BINS, np.int64)
        self.frames = 0
        self.dropped = 0
        self.last_index = -1
        self.started = time.monotonic()
        self._recent: list[float] = []  # completion times of the last few frames, for fps

    def frame_done(self, index: int, latency: float) -> None:
        with self._lock:
            self.frames += 1
            self.last_index = index
            self._histogram[min(BINS - 1, int(latency / BIN_SECONDS))] += 1
            self._recent.append(time.monotonic())
            del self._recent[:-30]

    def add_dropped(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count

    def latency(self, quantile: float) -> float | None:
        """Latency (seconds) at ``quantile`` in [0, 1] over all frames so far; None if none."""
        with self._lock:
            total = int(self._histogram.sum())
            if total == 0:
                return None
            rank = int(np.searchsorted(np.cumsum(self._histogram), quantile * total))
            return (min(rank, BINS - 1) + 0.5) * BIN_SECONDS

    def fps(self) -> float:
        """Frames per second over the last (up to 30) frames."""
        with self._lock:
            recent = list(self._recent)
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    def as_dict(self) -> dict[str, float | int | None]:
        seen = self.frames + self.dropped
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "drop_rate": self.dropped / seen if seen else 0.0,
            "latency_p50": self.latency(0.5),
            "latency_p95": self.latency(0.95),
            "fps": round(self.fps(), 2),
            "frame_index": self.last_index,
        }
