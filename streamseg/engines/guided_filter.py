"""He et al.'s guided filter (ECCV 2010, PAMI 2013): edge-aware smoothing of a map.

Locally the output is a linear function of the guide image, ``q = a . I + b``, fitted
in every (2r+1)^2 window, so the output's edges follow the guide's. With a grey guide
an edge between two colours of the same brightness is invisible; the colour guide
(a 3-vector per pixel, a 3 x 3 covariance per window) sees it.
"""

from __future__ import annotations

import cv2
import numpy as np


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    k = (2 * radius + 1, 2 * radius + 1)
    return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)


def guided_filter_grey(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Smooth (h, w) float32 ``src`` by the (h, w) float32 ``guide`` in [0, 1]."""
    mean_i, mean_p = _box(guide, radius), _box(src, radius)
    cov = _box(guide * src, radius) - mean_i * mean_p
    var = _box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return _box(a, radius) * guide + _box(b, radius)


def guided_filter_colour(
    guide: np.ndarray, src: np.ndarray, radius: int, eps: float, subsample: int = 1
) -> np.ndarray:
    """Smooth (h, w) float32 ``src`` by the (h, w, 3) float32 ``guide`` in [0, 1].

    subsample: fit the local linear models on a grid this many times coarser (He and
    Sun's fast guided filter, 2015) and apply them to the full-resolution guide: the
    edges stay at full detail, the cost falls by about its square.
    """
    h, w = src.shape
    full = guide
    if subsample > 1 and min(h, w) >= 4 * subsample:
        size = (max(1, w // subsample), max(1, h // subsample))
        guide = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        radius = max(1, radius // subsample)
    chans = [np.ascontiguousarray(guide[..., c]) for c in range(3)]
    mean = [_box(c, radius) for c in chans]
    mean_p = _box(src, radius)
    cov = [_box(c * src, radius) - m * mean_p for c, m in zip(chans, mean)]
    # The window's colour covariance, regularised: [[rr, rg, rb], [rg, gg, gb], [rb, gb, bb]].
    rr = _box(chans[0] * chans[0], radius) - mean[0] * mean[0] + eps
    rg = _box(chans[0] * chans[1], radius) - mean[0] * mean[1]
    rb = _box(chans[0] * chans[2], radius) - mean[0] * mean[2]
    gg = _box(chans[1] * chans[1], radius) - mean[1] * mean[1] + eps
    gb = _box(chans[1] * chans[2], radius) - mean[1] * mean[2]
    bb = _box(chans[2] * chans[2], radius) - mean[2] * mean[2] + eps
    # Its inverse by cofactors (symmetric), then a = inverse @ cov per pixel.
    i_rr = gg * bb - gb * gb
    i_rg = gb * rb - rg * bb
    i_rb = rg * gb - gg * rb
    i_gg = rr * bb - rb * rb
    i_gb = rb * rg - rr * gb
    i_bb = rr * gg - rg * rg
    det = rr * i_rr + rg * i_rg + rb * i_rb
    a_r = (i_rr * cov[0] + i_rg * cov[1] + i_rb * cov[2]) / det
    a_g = (i_rg * cov[0] + i_gg * cov[1] + i_gb * cov[2]) / det
    a_b = (i_rb * cov[0] + i_gb * cov[1] + i_bb * cov[2]) / det
    b = mean_p - a_r * mean[0] - a_g * mean[1] - a_b * mean[2]
    coeffs = [_box(x, radius) for x in (a_r, a_g, a_b, b)]
    if full is not guide:
        coeffs = [cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) for x in coeffs]
    return (
        coeffs[0] * full[..., 0] + coeffs[1] * full[..., 1] + coeffs[2] * full[..., 2] + coeffs[3]
    )
