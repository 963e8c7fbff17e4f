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
