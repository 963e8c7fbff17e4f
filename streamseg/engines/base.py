"""The engine protocol: a promptable segmenter with two calls.

``embed`` is prompt-free and batched (for SAM, the image encoder: ~95% of the work);
``segment`` turns one frame's embedding plus the prompts of N objects into N masks
in one call. The tracker (streamseg/track/) decides the prompts; engines never see
more than one frame's worth of state per object.

An engine may also offer ``locate`` (see ``Locator``): a search of the whole frame for
an object by its stored appearance, which the tracker uses to find an object again
after it was hidden or lost. Engines without it simply do not re-acquire objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class ObjectPrompt:
    """What the tracker asks the engine about one object on one frame.

    points: (K, 2) float32 x, y in frame pixels; labels: (K,) int32 (1 on, 0 off).
    box: (4,) float32 x0, y0, x1, y1, or None.
    mask: (H, W) float32 in [0, 1], or None: the object's mask as given by the user
        (exact) or carried from the previous frame by optical flow (a prior).
    mask_given: True when ``mask`` is the user's own mask and should be kept as is.
    logits: the engine's own low-resolution logits from the previous frame, or None.
    appearance: the engine's own appearance model of this object, or None (first frame).
    """

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None = None
    mask: np.ndarray | None = None
    mask_given: bool = False
    logits: Any = None
    appearance: Any = None


@dataclass
class Segmentation:
    """The engine's answer for one object: mask (H, W) bool, score in [0, 1],
    and the engine's own state to hand back next frame (logits, appearance).

    shown: (H, W) bool, the mask to give the user when it differs from ``mask`` (the
    one the tracker carries to the next frame), or None: ``mask`` is shown.
    certainty: in [0, 1], how sure the engine is of this frame's answer taken alone; a
    factor on the score reported for this frame that does not enter the track's
    running confidence (streamseg/track/confidence.py); 1.0 when it has no such measure.
    """

    mask: np.ndarray
    score: float
    logits: Any = None
    appearance: Any = None
    shown: np.ndarray | None = None
    certainty: float = 1.0


class Engine(Protocol):
    """A promptable segmenter. See the module docstring."""

    name: str

    def embed(self, images: Sequence[np.ndarray]) -> list[Any]:
        """Prompt-free work for a batch of (H, W, 3) uint8 RGB frames, one result each."""
        ...

    def segment(self, embedding: Any, prompts: Sequence[ObjectPrompt]) -> list[Segmentation]:
        """Masks for N objects on one frame, in one call; one Segmentation per prompt."""
        ...


class Locator(Protocol):
    """The optional search an engine may offer for re-acquiring lost objects."""

    def locate(
        self, embedding: Any, appearance: Any, area: float | None = None
    ) -> tuple[float, float, float] | None:
        """Where on this frame the object whose appearance (the engine's own, as in
        Segmentation.appearance) most likely is: (x, y, score) in frame pixels with
        score in [0, 1], or None when nothing fits. ``area``: the object's expected
        area in frame pixels, when known."""
        ...
