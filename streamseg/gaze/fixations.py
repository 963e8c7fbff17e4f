"""Fixations in a gaze track: I-DT (dispersion threshold, Salvucci & Goldberg 2000).

``detect_fixations`` over a whole track, ``FixationDetector`` fed one (time, xy) per
frame. Dispersion is ``(max x - min x) + (max y - min y)`` in pixels of the frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Fixation:
    """A run of gaze samples that stayed within ``max_dispersion`` for ``min_duration``.

    start, end: times (s) of its first and last sample. center: (2,) float32 mean
    x, y. first, last: indices of its first and last sample (detect_fixations) or
    running sample counts (FixationDetector).
    """

    start: float
    end: float
    center: np.ndarray
    first: int
    last: int

    @property
    def duration(self) -> float:
        return self.end - self.start


def _dispersion(points: np.ndarray) -> float:
    return float(np.ptp(points[:, 0]) + np.ptp(points[:, 1])) if len(points) else 0.0


def detect_fixations(
    times: Sequence[float] | np.ndarray,
    points: np.ndarray,
    min_duration: float = 0.1,
    max_dispersion: float = 25.0,
    valid: np.ndarray | None = None,
    max_gap: float = 0.25,
) -> list[Fixation]:
    """I-DT fixations in a gaze track.

    times: (N,) seconds, increasing. points: (N, 2) x, y (pixels). valid: (N,)
    bool; samples where it is False (or x, y is NaN) are left out, as if not there:
    no gaze near that frame, or a blink. A fixation never spans a gap of more than
    ``max_gap`` seconds between kept samples. Defaults: 100 ms, and 25 px (about
    2.3 degrees at the centre of a Gen1 RGB frame, focal ~610 px; use
    ``GazeTrack.pixels_per_degree`` to give it in degrees). Fixation.first/last
    index the input arrays.
    """
    t = np.asarray(times, np.float64).reshape(-1)
    p = np.asarray(points, np.float64).reshape(-1, 2)
    ok = np.ones(len(t), bool) if valid is None else np.asarray(valid, bool).reshape(-1).copy()
    ok &= np.isfinite(p).all(axis=1)
    keep = np.flatnonzero(ok)
    t, p = t[keep], p[keep]
    joined = np.diff(t) <= max_gap  # joined[k]: samples k and k + 1 may share a fixation
    out: list[Fixation] = []
    i, n = 0, len(t)
    while i < n:
        j = i  # the smallest window [i, j] that spans min_duration
        while j + 1 < n and joined[j] and t[j] - t[i] < min_duration:
            j += 1
        if t[j] - t[i] < min_duration or _dispersion(p[i : j + 1]) > max_dispersion:
            i += 1
            continue
        while j + 1 < n and joined[j] and _dispersion(p[i : j + 2]) <= max_dispersion:
            j += 1
        centre = p[i : j + 1].mean(axis=0).astype(np.float32)
        out.append(Fixation(float(t[i]), float(t[j]), centre, int(keep[i]), int(keep[j])))
        i = j + 1
    return out


class FixationDetector:
    """Online I-DT: feed one gaze point per frame, learn when a new fixation starts.

    Keeps the longest run of recent samples whose dispersion is within
    ``max_dispersion``; when that run first spans ``min_duration`` a fixation
    starts and ``update`` returns it (once); it lasts until a sample breaks the
    dispersion or comes more than ``max_gap`` s after the last one. Invalid samples
    are skipped, as in :func:`detect_fixations`, and give the same fixations.
    ``current`` is the fixation in progress (end, centre and last updated), or None.
    """

    def __init__(
        self, min_duration: float = 0.1, max_dispersion: float = 25.0, max_gap: float = 0.25
    ) -> None:
        self.min_duration, self.max_dispersion, self.max_gap = min_duration, max_dispersion, max_gap
        self.window: list[tuple[int, float, float, float]] = []  # (index, time, x, y)
        self.current: Fixation | None = None
        self.count = 0  # samples seen, valid or not

    def reset(self) -> None:
        self.window.clear()
        self.current = None

    def _dispersion(self) -> float:
        return _dispersion(np.array([(x, y) for _, _, x, y in self.window]))

    def update(
        self, time: float, xy: np.ndarray | Sequence[float], valid: bool = True
    ) -> Fixation | None:
        """Add the sample at ``time`` (s); return a Fixation if one starts with it, else None."""
        index = self.count
        self.count += 1
        x, y = (float(v) for v in np.asarray(xy, np.float64).reshape(2))
        if not valid or not (math.isfinite(x) and math.isfinite(y)):
            return None
        if self.window and time - self.window[-1][1] > self.max_gap:
            self.reset()
        self.window.append((index, time, x, y))
        if self._dispersion() > self.max_dispersion:
            if self.current is not None:  # the fixation is over; a new run starts here
                self.current = None
                del self.window[:-1]
                return None
            while len(self.window) > 1 and self._dispersion() > self.max_dispersion:
                self.window.pop(0)
        centre = np.array([(x, y) for _, _, x, y in self.window]).mean(axis=0).astype(np.float32)
        if self.current is not None:
            self.current.end, self.current.center, self.current.last = time, centre, index
            return None
        first_index, first_time = self.window[0][:2]
        if time - first_time >= self.min_duration:
            self.current = Fixation(first_time, time, centre, first_index, index)
            return self.current
        return None
