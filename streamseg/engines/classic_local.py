"""Local colour models along the object's boundary: edge-aware evidence for the classic engine.

A global colour histogram cannot tell object from background where both have the
same colours somewhere (a brown dog on brown ground); near the boundary what counts is
the colour *just inside* against the colour *just outside* (Video SnapCut's local
classifiers). Here that is done densely and cheaply by normalised convolution: at
every pixel, the mean and variance of the Lab colour of the carried object (weighted
by the prior p) and of the background (weighted by 1 - p) within a window, and a
Gaussian log-likelihood ratio of the pixel's colour under the two. Where the window
holds only one side, the ratio says nothing (both weights are needed).
"""

from __future__ import annotations

import cv2
import numpy as np


def local_colour_llr(
    rgb: np.ndarray,
    prior: np.ndarray,
    radius: int,
    clip: float,
    floor: float = 25.0,
    step: int = 2,
) -> np.ndarray:
    """(h, w) float32 log-likelihood ratio object : background of each pixel's colour.

    rgb: (h, w, 3) uint8; prior: (h, w) float32 in [0, 1] (the carried mask); radius:
    window half-size in pixels; clip: the largest |ratio|; floor: smallest variance
    (Lab units squared) per channel, so flat regions do not give certainty; step:
    the work is done at 1/step of the resolution (speed).
    """
    h, w = prior.shape
    if step > 1 and min(h, w) >= 8 * step:
        # Local statistics are smooth: work at 1/step resolution, upsample the answer
        # (the guided filter that follows puts the boundary back on the image's edges).
        size = (max(1, w // step), max(1, h // step))
        small = local_colour_llr(
            cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
            cv2.resize(prior, size, interpolation=cv2.INTER_AREA),
            max(1, radius // step),
            clip,
            floor,
            step=1,
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32)
    k = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, normalize=True, borderType=cv2.BORDER_REFLECT)

    # Weights from the confident parts of the prior only: its soft rim is what we decide.
    wf = np.clip((prior - 0.5) * 2.5, 0.0, 1.0).astype(np.float32)
    wb = np.clip((0.5 - prior) * 2.5, 0.0, 1.0).astype(np.float32)
    sf, sb = box(wf), box(wb)
    eps = 1e-3
    out = np.zeros(prior.shape, np.float32)
    for c in range(3):
        x = lab[..., c]
        mf = box(wf * x) / (sf + eps)
        mb = box(wb * x) / (sb + eps)
        vf = np.maximum(box(wf * x * x) / (sf + eps) - mf * mf, floor)
        vb = np.maximum(box(wb * x * x) / (sb + eps) - mb * mb, floor)
        out += 0.5 * ((x - mb) ** 2 / vb - (x - mf) ** 2 / vf) + 0.5 * np.log(vb / vf)
    # Only where both sides are present in the window; fade in with the rarer one.
    both = np.clip(np.minimum(sf, sb) / 0.1, 0.0, 1.0)
    return (np.clip(out, -clip, clip) * both).astype(np.float32)
