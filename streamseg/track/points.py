"""Points inside a mask: where to click on an object, or re-seed drifted prompt points."""

from __future__ import annotations

import cv2
import numpy as np


def interior_points(
    mask: np.ndarray, count: int = 1, fixed: np.ndarray | None = None
) -> np.ndarray:
    """(count, 2) float32 x, y points deep inside ``mask`` (H, W) bool, spread out.

    With no ``fixed`` points the first is the most interior pixel (largest distance to
    the edge; the frame's border counts as edge). Each further point is the pixel at
    least half that deep which lies farthest from ``fixed`` (K, 2) and the points
    chosen before it. The mask must not be empty.
    """
    dist = cv2.distanceTransform(np.pad(mask, 1).view(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    ys, xs = np.nonzero(dist >= 0.5 * dist.max())
    step = max(1, len(xs) // 2000)  # a subsample is plenty to spread a few points
    candidates = np.stack([xs[::step], ys[::step]], axis=1).astype(np.float32)
    chosen = list(np.asarray(fixed if fixed is not None else [], np.float32).reshape(-1, 2))
    out = []
    for _ in range(count):
        if chosen:
            gaps = np.min(np.linalg.norm(candidates[:, None] - np.array(chosen)[None], axis=2), 1)
            best = candidates[int(np.argmax(gaps))]
        else:
            y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
            best = np.array([x, y], np.float32)
        chosen.append(best)
        out.append(best)
    return np.array(out, np.float32).reshape(-1, 2)


def fix_points(
    mask: np.ndarray, points: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep carried points meaningful: positives inside the mask, negatives outside.

    mask: (H, W) bool; points: (K, 2) float32 x, y; labels: (K,) int32 (1 = object).
    A positive point that drifted off the mask is replaced by a new one sampled from
    the mask's interior (at least half the deepest point's distance from the edge), as
    far as possible from the points that stayed, so they spread over the object. A
    negative point that drifted onto the object is dropped. Returns (points, labels).
    """
    if not len(points):
        return points, labels
    h, w = mask.shape
    ix = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    inside = mask[iy, ix]
    keep = (labels > 0) | ~inside
    stray = (labels > 0) & ~inside
    if stray.any():
        points = points.copy()
        points[stray] = interior_points(mask, int(stray.sum()), points[~stray])
    return points[keep], labels[keep]
