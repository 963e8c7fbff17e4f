"""The classic engine's mask parts: small holes inside an object are filled, big holes
and bays open to the outside stay, and only the parts the prior supports are kept."""

from __future__ import annotations

import cv2
import numpy as np

from streamseg.engines.classic_parts import fill_holes, keep_supported


def disk_with_holes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A disk of radius 40 (area ~5,000 px) with a small hole (~80 px), a big hole
    (~1,250 px) and a bay cut in from its edge. Returns (mask, small, big)."""
    mask = np.zeros((120, 120), np.uint8)
    cv2.circle(mask, (60, 60), 40, 1, -1)
    small = np.zeros_like(mask)
    cv2.circle(small, (45, 45), 5, 1, -1)
    big = np.zeros_like(mask)
    cv2.circle(big, (70, 70), 20, 1, -1)
    mask[small > 0] = 0
    mask[big > 0] = 0
    mask[56:64, 0:35] = 0  # a bay from the left edge into the disk: not a hole
    return mask.astype(bool), small.astype(bool), big.astype(bool)


def test_small_holes_are_filled_big_ones_and_bays_stay():
    mask, small, big = disk_with_holes()
    filled = fill_holes(mask, 0.1)
    assert filled[small].all()  # ~2% of the area: filled
    assert not filled[big].any()  # ~25% of the area: a real gap
    assert not filled[56:64, 0:35].any()  # open to the outside
    assert (filled | ~mask).all()  # nothing of the object is taken away
    assert np.array_equal(fill_holes(mask, 0.0), mask)  # 0: off
    assert fill_holes(mask, 1.0)[big].all()


def test_a_hole_reaching_the_edge_of_the_crop_is_not_filled():
    mask = np.ones((50, 50), bool)
    mask[20:30, 0:10] = False  # background cut by the crop's edge, inside the object
    assert np.array_equal(fill_holes(mask, 0.5), mask)
    assert not fill_holes(np.zeros((10, 10), bool), 0.5).any()


def test_parts_off_the_prior_are_dropped():
    mask = np.zeros((60, 60), bool)
    mask[10:30, 10:30] = True  # the object, on the prior
    mask[40:50, 40:50] = True  # a speck away from it
    core = np.zeros_like(mask)
    core[8:32, 8:32] = True
    kept = keep_supported(mask, core, 0.5)
    assert kept[10:30, 10:30].all() and not kept[40:50, 40:50].any()
    # When no part lies on the prior, the largest is kept rather than nothing.
    kept = keep_supported(mask, np.zeros_like(mask), 0.5)
    assert kept[10:30, 10:30].all() and not kept[40:50, 40:50].any()
