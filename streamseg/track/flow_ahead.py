"""Optical flow computed ahead of the tracker, in the thread that reads the frames.

The flow into a frame depends on that frame and the one before it, not on any mask,
so for a file it can be worked out while the tracker is still busy with an earlier
frame: the decode thread (streamseg/queues.py, Prefetch) runs ``frames`` below, which
estimates each frame's flow as it is read and leaves it for the tracker to ``take``.
With a core to spare the flow (some 30% of the classic engine's time per frame on
DAVIS) then costs the tracker nothing but a resize to full resolution.

It is an optimisation with the same answer: the estimate uses its own DIS instance
with the tracker's settings, from the same grey images, and the tracker uses it only
when it was made from the very frame the tracker last saw; otherwise (frames skipped,
nothing to carry when it was read) the tracker computes the flow itself. Live
sources do not use it: they drop frames, and reading ahead would add latency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from streamseg.flow import FlowEstimator, ReducedFlow
from streamseg.types import Frame


@dataclass(frozen=True)
class FlowAhead:
    """What was prepared for one frame (``image``, the very array read): its grey
    image, and its flow from frame ``previous`` (None when none was estimated)."""

    image: np.ndarray
    gray: np.ndarray
    previous: int | None
    flow: ReducedFlow | None


class FlowReader:
    """Estimates the flow of frames as they are read, for the tracker to take.

    ``wanted(index)`` is asked before each estimate (from the reading thread): whether
    the tracker may carry something into frame ``index``, so that frames up to an
    object's first prompt cost no flow. Entries live from the frame's reading until
    the tracker takes them; the reading thread runs at most the decode queue's length
    ahead.
    """

    def __init__(self, estimator: FlowEstimator, wanted: Callable[[int], bool]):
        self._estimator = estimator  # its own DIS: never used from two threads
        self._wanted = wanted
        self._ready: dict[int, FlowAhead] = {}
        self._lock = threading.Lock()

    def frames(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """The frames unchanged, each one's flow prepared as it passes."""
        last: tuple[int, np.ndarray] | None = None  # the frame before: index, grey image
        for frame in frames:
            gray = self._estimator.prepare(frame.image)
            flow, before = None, None
            if last is not None and last[1].shape == gray.shape and self._wanted(frame.index):
                before = last[0]
                flow = self._estimator.estimate(gray, last[1])
            with self._lock:
                self._ready[frame.index] = FlowAhead(frame.image, gray, before, flow)
            last = (frame.index, gray)
            yield frame

    def take(self, frame: Frame) -> FlowAhead | None:
        """What was prepared for this frame (once), or None: also when what was read
        under its index was another image."""
        with self._lock:
            # Entries of frames the tracker never saw (it skipped them) go with it.
            for old in [i for i in self._ready if i < frame.index]:
                del self._ready[old]
            ahead = self._ready.pop(frame.index, None)
        return ahead if ahead is not None and ahead.image is frame.image else None
