"""One tracked object's state and its statuses (O(1) in the video's length)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PENDING, TRACKING, HIDDEN, LOST, REMOVED = "pending", "tracking", "hidden", "lost", "removed"
REACQUIRED = "reacquired"
VISIBLE = (TRACKING, REACQUIRED)  # present on the last frame
CARRIED = (TRACKING, REACQUIRED, HIDDEN)  # carried by the flow each frame


@dataclass
class ObjectTrack:
    """One object's state: O(1) in the video's length.

    mask: (H, W) bool, the last mask (None before the object starts or once lost);
    shown: the engine's mask for the user when it differs from ``mask`` (the one
        carried), else None.
    logits, appearance: the engine's own state from the last frame.
    points: (K, 2) float32 the user's points, carried by the flow; labels: (K,) int32.
    box: (4,) float32 of the last mask. status: "pending", "tracking", "reacquired"
    (found again on this frame after being out of sight), "hidden" (out of sight,
    still looked for where it went), "lost" (searched for by appearance only) or
    "removed". score: the confidence of the last answer (0 while out of sight);
    confidence: the running mean of the engine's scores (streamseg/track/confidence.py);
    start: the engine's score on the frame the object was started (how clearly it was
        found: a click on part of an object scores lower); every later score is the
        confidence times it.
    grow_left: frames on which motion may still extend its mask.
    extent: (H, W) float32 in [0, 1], where the object is, hidden parts included,
        fading with time; motion: (2, 3) its last overall motion; hidden_for: frames
        since it was last seen; peak_area: its recent largest area, in pixels.
    template: (h, w) bool, the last visible mask cropped to its box (its shape, for
        re-acquisition); candidate: (x, y) where ``locate`` last found it while out of
        sight, hits: on how many consecutive frames.
    """

    object_id: int
    name: str | None = None
    status: str = PENDING
    mask: np.ndarray | None = None
    shown: np.ndarray | None = None
    logits: Any = None
    appearance: Any = None
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    score: float = 0.0
    confidence: float = 1.0
    start: float = 1.0
    grow_left: int = 0
    extent: np.ndarray | None = None
    motion: np.ndarray | None = None
    hidden_for: int = 0
    peak_area: float = 0.0
    template: np.ndarray | None = None
    candidate: tuple[float, float] | None = None
    hits: int = 0


def remember_shape(tr: ObjectTrack) -> None:
    """Keep the last visible mask cropped to its box as the object's shape."""
    assert tr.mask is not None
    x0, y0, x1, y1 = (int(v) for v in tr.box)
    tr.template = tr.mask[y0:y1, x0:x1].copy()
