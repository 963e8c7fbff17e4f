"""The parts of the classic engine's masks: which to keep, which holes to fill, and
who gets a pixel several objects claim.

A colour-and-prior posterior thresholded at 0.5 leaves specks: parts off the object
(kept only where the motion prior supports them) and holes inside it (a highlight, a
shadow, a patch of the object's colours that the background shares). An object's
outline rarely encloses background, so holes smaller than a share of the object are
filled; bigger ones (the gap between an arm and the body) are real and stay. Only
the mask shown is filled: the one carried to the next frame keeps its holes, so a
filled hole is not taken for the object's when the next frame is segmented (filled
in the carried mask too, it cost J&F on the DAVIS dev set).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from streamseg.engines.base import ObjectPrompt, Segmentation
from streamseg.types import mask_box


def keep_supported(mask: np.ndarray, core: np.ndarray, min_keep: float) -> np.ndarray:
    """The connected parts of a (h, w) bool mask of which at least ``min_keep`` lies on
    the (h, w) bool ``core`` (the largest part when none does)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    on_core = np.bincount(labels[core], minlength=n)
    keep = on_core >= min_keep * stats[:, cv2.CC_STAT_AREA]
    keep[0] = False
    if not keep[1:].any():
        keep[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = True
    return keep[labels]


def fill_holes(mask: np.ndarray, largest: float) -> np.ndarray:
    """The (h, w) bool mask with its holes of less than ``largest`` x its area filled.

    A hole is a 4-connected part of the background that does not reach the edge of
    the array (the caller's crop must leave a margin around the object).
    """
    area = int(np.count_nonzero(mask))
    if area == 0 or largest <= 0:
        return mask
    outside = (~mask).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(outside, connectivity=4)
    if n <= 2:  # only the background around the object: no holes
        return mask
    h, w = mask.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    inside = (x > 0) & (y > 0) & (x + stats[:, cv2.CC_STAT_WIDTH] < w)
    inside &= y + stats[:, cv2.CC_STAT_HEIGHT] < h
    fill = inside & (stats[:, cv2.CC_STAT_AREA] < largest * area)
    fill[0] = False
    if not fill.any():
        return mask
    return mask | fill[labels]


def resolve_overlaps(segs: list[Segmentation]) -> None:
    """Give each pixel claimed by several objects to the one with the highest posterior
    (to two decimals); between equally sure claims, to the smaller object: an object
    inside another's outline (a ball in the hands, a logo on a shirt) is in front."""
    masks = np.stack([s.mask for s in segs])
    contested = masks.sum(axis=0) > 1
    if not contested.any():
        return
    post = np.round(np.stack([np.asarray(s.logits) for s in segs])[:, contested], 2)
    area = masks.reshape(len(segs), -1).sum(axis=1).astype(np.float64)
    post = post + 1e-3 * (1.0 - area / area.max())[:, None]  # less than a 0.01 step
    post = np.where(masks[:, contested], post, -1.0)
    winner = np.argmax(post, axis=0)
    for i, s in enumerate(segs):
        s.mask[contested] = winner == i


def show_filled(segs: list[Segmentation], prompts: Sequence[ObjectPrompt], largest: float) -> None:
    """Set each answer's ``shown`` mask: its holes smaller than ``largest`` x its area
    filled, except where another object is (a user's own mask is shown as given).

    Holes are looked for in the mask's box grown by a pixel (the ring around it is
    background, so what reaches the box's edge is outside, as on the whole frame)."""
    claimed: np.ndarray | None = None  # how many objects claim each pixel, when needed
    for seg, prompt in zip(segs, prompts):
        if prompt.mask_given:
            continue
        box = mask_box(seg.mask)
        if box[2] <= box[0]:
            continue
        h, w = seg.mask.shape
        x0, y0 = max(0, int(box[0]) - 1), max(0, int(box[1]) - 1)
        x1, y1 = min(w, int(box[2]) + 1), min(h, int(box[3]) + 1)
        crop = seg.mask[y0:y1, x0:x1]
        filled = fill_holes(crop, largest)
        if filled is crop:
            continue
        if claimed is None:
            claimed = np.stack([s.mask for s in segs]).sum(axis=0, dtype=np.uint8)
        # A filled pixel another object claims stays that object's.
        filled &= crop | (claimed[y0:y1, x0:x1] == 0)
        seg.shown = seg.mask.copy()
        seg.shown[y0:y1, x0:x1] = filled
