"""The classic engine learns its background model away from the mask: a part of the
object the carried mask has missed lies just outside it, and learned as background
it would be pushed out again on every later frame (classic.bg_gap)."""

from __future__ import annotations

import cv2
import numpy as np
from test_classic import H, W, background, ellipse_mask, paint

from streamseg.engines.base import ObjectPrompt
from streamseg.engines.classic import ClassicConfig, ClassicEngine

NO_POINTS = np.zeros((0, 2), np.float32)
NO_LABELS = np.zeros(0, np.int32)


def belted_object() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A still frame: a red ellipse with a pale belt across its lower part, whose colour
    lies between the object's and the greenish backdrop's. Returns (image, object, belt)."""
    image = background()[40 : 40 + H, 40 : 40 + W].copy()
    obj = ellipse_mask(160, 120, 70, 50, 0)
    yy = np.mgrid[0:H, 0:W][0]
    belt = obj & (yy > 148) & (yy <= 158)
    paint(image, obj, (215, 50, 40), 0)
    paint(image, belt, (205, 210, 190), 1)
    return image, obj, belt


def belt_kept(bg_gap: float, frames: int = 8) -> float:
    """Share of the belt in the mask after ``frames`` frames, starting from a carried
    mask that missed the belt and what lies below it (the colours known from the whole
    object on its first frame). The frame stays still, so each frame's prior is the last
    mask, softened, as the tracker carries it."""
    image, obj, belt = belted_object()
    engine = ClassicEngine(ClassicConfig(bg_gap=bg_gap))
    embedding = engine.embed([image])[0]
    first = ObjectPrompt(NO_POINTS, NO_LABELS, mask=obj.astype(np.float32), mask_given=True)
    model = engine.segment(embedding, [first])[0].appearance
    yy = np.mgrid[0:H, 0:W][0]
    mask = obj & (yy <= 148)
    for _ in range(frames):
        prior = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 3)
        prompt = ObjectPrompt(NO_POINTS, NO_LABELS, mask=prior, appearance=model)
        seg = engine.segment(embedding, [prompt])[0]
        mask, model = seg.mask, seg.appearance
    return float(mask[belt].mean())


def test_a_part_the_mask_missed_comes_back_rather_than_being_learned_as_background():
    assert belt_kept(ClassicConfig().bg_gap) > 0.95
    # Learned from just outside the mask, the belt's colour becomes background's.
    assert belt_kept(0.0) < 0.1
