"""The small set of dataclasses that flows through every stage.

Shapes and dtypes are checked in ``__post_init__`` so a bad array fails where it is
made, with the expected and the actual shape in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _check(name: str, array: np.ndarray, ndim: int, dtype: type | None = None) -> None:
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {array.shape}")
    if dtype is not None and array.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {np.dtype(dtype)}, got {array.dtype}")


@dataclass
class Frame:
    """One decoded video frame.

    image: (H, W, 3) uint8 RGB, C-contiguous.
    index: position in the source, counting every decoded frame from 0 (after --start).
    pts: presentation timestamp in the source stream's time base (None if unknown).
    time: presentation time in seconds.
    arrival: time.monotonic() when the frame left the decoder (for latency).
    gaze: (2,) float32 x, y where the wearer looked (Aria recordings), or None.
    """

    index: int
    pts: int | None
    time: float
    image: np.ndarray
    arrival: float = 0.0
    gaze: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check("Frame.image", self.image, 3, np.uint8)
        if self.image.shape[2] != 3:
            raise ValueError(f"Frame.image: expected (H, W, 3) RGB, got shape {self.image.shape}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass
class Prompt:
    """What the user says about one object at one frame.

    points: (K, 2) float32 x, y in source pixels; labels: (K,) int32, 1 = on the
    object, 0 = not on it. box: (4,) float32 x0, y0, x1, y1. mask: (H, W) bool.
    Any of them may be empty/None, but not all.
    """

    object_id: int
    frame: int = 0
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    box: np.ndarray | None = None
    mask: np.ndarray | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, np.float32).reshape(-1, 2)
        self.labels = np.asarray(self.labels, np.int32).reshape(-1)
        if len(self.points) != len(self.labels):
            raise ValueError(
                f"Prompt: {len(self.points)} points but {len(self.labels)} labels; "
                "give one label per point"
            )
        if self.box is not None:
            self.box = np.asarray(self.box, np.float32).reshape(4)
        if self.mask is not None:
            _check("Prompt.mask", self.mask, 2)
            self.mask = self.mask.astype(bool)
        if not len(self.points) and self.box is None and self.mask is None:
            raise ValueError(f"Prompt for object {self.object_id}: no point, box or mask given")

    def describe(self) -> dict:
        """A JSON-friendly summary (masks by their pixel count), for the output metadata."""
        out: dict = {"frame": self.frame}
        if len(self.points):
            out["points"] = self.points.tolist()
            out["labels"] = self.labels.tolist()
        if self.box is not None:
            out["box"] = self.box.tolist()
        if self.mask is not None:
            out["mask_pixels"] = int(self.mask.sum())
        return out


@dataclass
class FrameResult:
    """Every object's mask on one frame.

    object_ids: N ids, in the order of the arrays. masks: (N, H, W) bool.
    scores: (N,) float32 in [0, 1]. boxes: (N, 4) float32 x0, y0, x1, y1 (zeros
    where absent). present: (N,) bool, False when the object is not in view.
    latency: seconds from the frame's arrival (Frame.arrival) to this result.
    """

    frame: Frame
    object_ids: list[int]
    masks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    present: np.ndarray
    latency: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.object_ids)
        h, w = self.frame.image.shape[:2]
        if self.masks.shape != (n, h, w):
            raise ValueError(f"FrameResult.masks: expected {(n, h, w)}, got {self.masks.shape}")
        for name, arr, shape in (
            ("scores", self.scores, (n,)),
            ("boxes", self.boxes, (n, 4)),
            ("present", self.present, (n,)),
        ):
            if arr.shape != shape:
                raise ValueError(f"FrameResult.{name}: expected {shape}, got {arr.shape}")


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight box (4,) float32 x0, y0, x1, y1 (x1, y1 exclusive) of a (H, W) bool mask.

    Zeros when the mask is empty.
    """
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return np.zeros(4, np.float32)
    xs = np.flatnonzero(mask.any(axis=0))
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], np.float32)
