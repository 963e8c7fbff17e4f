"""The classic engine shows an object whole: a patch of the background's colours inside
it (a logo, a highlight, a gap the colour model takes for background) is not cut out
of the mask shown, while the mask carried to the next frame keeps to what its colours
said; another object inside the hole keeps it (between equally sure claims, the
smaller object, inside the other's outline, is the one in front)."""

from __future__ import annotations

import numpy as np
from helpers import track
from test_classic import H, W, background, ellipse_mask, paint

from streamseg.engines.classic import ClassicConfig, ClassicEngine
from streamseg.eval.metrics import jaccard
from streamseg.track.tracker import Tracker
from streamseg.types import Prompt


def spotted_clip(n: int = 8, blue_spot: bool = False):
    """A red ellipse moving right 3 px a frame over a still backdrop, with a spot inside
    it showing the backdrop's colours (or, with ``blue_spot``, a blue ellipse, a second
    object, in that place). Returns frames, the red object's truths, the spots."""
    bg = background()[40 : 40 + H, 40 : 40 + W]
    frames, truths, spots = [], [], []
    for i in range(n):
        img = bg.copy()
        obj = ellipse_mask(150 + 3 * i, 120, 70, 50, 0)
        spot = ellipse_mask(165 + 3 * i, 110, 14, 10, 0)
        paint(img, obj, (215, 50, 40), i)
        if blue_spot:
            paint(img, spot, (50, 70, 210), 100 + i)
        else:
            img[spot] = bg[spot]
        frames.append(img)
        truths.append(obj & ~spot if blue_spot else obj)
        spots.append(spot)
    return frames, truths, spots


def click(oid: int, x: float, y: float) -> Prompt:
    return Prompt(oid, 0, points=np.array([[x, y]], np.float32), labels=np.ones(1, np.int32))


def run(frames, prompts, fill_holes: float):
    tracker = Tracker(ClassicEngine(ClassicConfig(fill_holes=fill_holes)))
    tracker.add_prompts(prompts)
    return track(tracker, frames), tracker


def test_a_patch_of_background_colour_inside_the_object_is_shown_as_the_object():
    frames, truths, spots = spotted_clip()
    results, tracker = run(frames, [click(1, 120, 130)], ClassicConfig().fill_holes)
    for i, (r, truth, spot) in enumerate(zip(results, truths, spots)):
        assert jaccard(r.masks[0], truth) >= 0.95, i
        assert r.masks[0][spot].mean() > 0.95, i
    # The carried mask keeps the hole: its colours are not learned as the object's.
    carried = tracker.track(1).mask
    assert carried is not None and carried[spots[-1]].mean() < 0.5
    # Without filling, the mask shown has the hole.
    plain, _ = run(frames, [click(1, 120, 130)], 0.0)
    assert all(r.masks[0][s].mean() < 0.5 for r, s in zip(plain, spots))


def test_another_object_in_the_hole_stays_out_of_it():
    frames, truths, spots = spotted_clip(blue_spot=True)
    # The blue one is given by its mask (the user drew it).
    blue = Prompt(2, 0, mask=spots[0])
    results, _ = run(frames, [click(1, 120, 130), blue], ClassicConfig().fill_holes)
    for i, (r, truth, spot) in enumerate(zip(results, truths, spots)):
        assert not (r.masks[0] & r.masks[1]).any(), i
        assert jaccard(r.masks[0], truth) >= 0.9, i
        assert jaccard(r.masks[1], spot) >= 0.8, i
