"""How much the classic engine trusts a tracked answer: its per-frame score in [0, 1].

Three things lower it, each a factor:

- a jump: the answer's IoU with the mask carried by motion (a mask that moved onto
  another region overlaps the carried one little);
- indecision: how far the posterior is from 0.5 away from the mask's boundary
  (colour and motion disagree on what is object);
- a colour model that no longer fits: the Bhattacharyya coefficient of the answer's
  colour histogram with the object's on its first frame (``classic_colour.overlap``),
  to the power ``classic.fit_power`` (a mask that slid onto background of other
  colours keeps little of the object's own). Applied in ClassicEngine._finish, where
  the answer's histogram is made. On the DAVIS dev set this factor takes the
  score's Spearman correlation with the per-frame IoU from 0.743 to 0.772 (mask start)
  and from 0.518 to 0.569 (one click), the masks unchanged (docs/benchmarks.md).
"""

from __future__ import annotations

import cv2
import numpy as np


def answer_quality(mask: np.ndarray, carried: np.ndarray, post: np.ndarray) -> float:
    """The first two factors, in [0, 1]: the IoU of the (h, w) bool mask with the
    (h, w) bool mask carried by motion, times how decided the (h, w) float32 posterior
    is away from the mask's boundary (mean |2 p - 1|)."""
    union = np.count_nonzero(mask | carried)
    if union == 0:
        return 0.0
    iou = np.count_nonzero(mask & carried) / union
    m8 = mask.view(np.uint8)
    kernel = np.ones((5, 5), np.uint8)
    band = cv2.dilate(m8, kernel).astype(bool) & ~cv2.erode(m8, kernel).astype(bool)
    off = ~band
    decided = float(np.mean(np.abs(2.0 * np.clip(post[off], 0, 1) - 1.0))) if off.any() else 0.0
    return float(iou * decided)
