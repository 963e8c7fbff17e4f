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

These factors enter the track's running confidence (streamseg/track/confidence.py),
which decides when an object is lost. Indecision is also a judgement of this frame
alone: the engine hands back its decidedness to the power ``classic.certainty_power``
as ``Segmentation.certainty``, which the tracker multiplies into this frame's reported
score only. A frame where colour and motion disagree then reports low at once, and the
next clear frame reports high again, without the running confidence taking the hit
(that would change when objects are marked absent, and so the masks). On the DAVIS dev
set, Spearman(score, IoU) from the mask / 1 / 3 / 5 clicks 0.715 / 0.489 / 0.584 /
0.478 -> 0.724 / 0.549 / 0.634 / 0.566, J&F unchanged (docs/benchmarks.md).
"""

from __future__ import annotations

import cv2
import numpy as np


def answer_quality(mask: np.ndarray, carried: np.ndarray, post: np.ndarray) -> tuple[float, float]:
    """(the first two factors' product, the second alone), in [0, 1]: the IoU of the
    (h, w) bool mask with the (h, w) bool mask carried by motion, times how decided the
    (h, w) float32 posterior is away from the mask's boundary (mean |2 p - 1|); and
    that decidedness."""
    union = np.count_nonzero(mask | carried)
    iou = np.count_nonzero(mask & carried) / union if union else 0.0
    m8 = mask.view(np.uint8)
    kernel = np.ones((5, 5), np.uint8)
    band = cv2.dilate(m8, kernel).astype(bool) & ~cv2.erode(m8, kernel).astype(bool)
    off = ~band
    decided = float(np.mean(np.abs(2.0 * np.clip(post[off], 0, 1) - 1.0))) if off.any() else 0.0
    return float(iou * decided), decided
