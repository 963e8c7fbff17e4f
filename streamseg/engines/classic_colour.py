"""The classic engine's appearance model: Lab colour histograms of object and background.

Quantisation, smoothed histograms and how much two of them overlap (``overlap``),
the per-object ColourModel, the test that the object looks covered (``hidden``) and
the whole-frame search for a lost object by its colours (``locate_colour``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# Lab quantisation: coarse in lightness (shading changes it), finer in colour.
BINS = (8, 16, 16)
SHIFTS = (5, 4, 4)  # 256 >> shift == bins


@dataclass
class ColourModel:
    """An object's appearance: normalised Lab histograms, each of shape BINS, float32.

    fg0 is the first frame's object histogram (the anchor); fg the running one; bg
    the background's near the object.
    """

    fg0: np.ndarray
    fg: np.ndarray
    bg: np.ndarray


def quantise(rgb: np.ndarray) -> np.ndarray:
    """(h, w) int32 histogram bin of each pixel of a (h, w, 3) uint8 RGB image."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    q = lab >> np.array(SHIFTS, np.uint8)
    return (q[..., 0].astype(np.int32) * BINS[1] + q[..., 1]) * BINS[2] + q[..., 2]


def histogram(bins: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Normalised, lightly smoothed histogram (shape BINS) of the bins where ``where``."""
    n = int(np.prod(BINS))
    h = np.bincount(bins[where], minlength=n).astype(np.float32).reshape(BINS)
    # Separable [1 2 1] smoothing: neighbouring colours are nearly as likely.
    for axis in range(3):
        p = np.pad(h, [(1, 1) if a == axis else (0, 0) for a in range(3)], mode="edge")
        sl = [slice(None)] * 3
        lo, mid, hi = (list(sl) for _ in range(3))
        lo[axis], mid[axis], hi[axis] = slice(0, -2), slice(1, -1), slice(2, None)
        h = 0.25 * p[tuple(lo)] + 0.5 * p[tuple(mid)] + 0.25 * p[tuple(hi)]
    total = h.sum()
    return (h / total if total > 0 else np.full(BINS, 1.0 / n)).astype(np.float32)


def hidden(llr: np.ndarray, p: np.ndarray, fg: np.ndarray, bg: np.ndarray, cfg: Any) -> bool:
    """Whether the object looks covered: the prior's core (p > 0.5) has too few pixels
    of its colours (llr > 0), while the colour model is clearly discriminative."""
    core = p > 0.5
    if cfg.hidden_evidence <= 0 or not core.any():
        return False
    if float(np.mean(llr[core] > 0)) >= cfg.hidden_evidence:
        return False
    return 1.0 - overlap(fg, bg) >= cfg.hidden_distinct


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The Bhattacharyya coefficient of two normalised histograms of one shape, in
    [0, 1]: 1 for the same colours, 0 for colours in common nowhere."""
    return float(np.clip(np.sum(np.sqrt(a * b)), 0.0, 1.0))


def locate_colour(
    image: np.ndarray, appearance: ColourModel, area: float | None, cfg: Any
) -> tuple[float, float, float] | None:
    """Where on the frame an object with this appearance (a ColourModel) most likely
    is: (x, y, score) in frame pixels, score in [0, 1], or None when nothing fits.

    The object's colour histogram is back-projected against the background's (its
    surroundings' histogram mixed with the whole frame's) on the frame at reduced
    resolution; the smoothed log-likelihood ratio's positive blobs are candidates,
    those whose size fits ``area`` (the object's expected area in frame pixels,
    when known) count, and the one with the largest share of object-coloured
    pixels wins if that share reaches ``reappear_evidence``.

    image: (H, W, 3) uint8 RGB; cfg: the ClassicConfig.
    """
    h, w = image.shape[:2]
    s = min(1.0, cfg.locate_size / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    bins = quantise(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    fg = (cfg.anchor * appearance.fg0 + (1 - cfg.anchor) * appearance.fg).reshape(-1)
    frame_hist = histogram(bins, np.ones(bins.shape, bool)).reshape(-1)
    bg = 0.5 * appearance.bg.reshape(-1) + 0.5 * frame_hist
    llr = np.log(fg[bins] + 1e-5) - np.log(bg[bins] + 1e-5)
    llr = np.clip(llr, -cfg.colour_clip, cfg.colour_clip).astype(np.float32)
    expected = area * s * s if area else None
    sigma = max(1.0, 0.15 * np.sqrt(expected)) if expected else 1.5
    smooth = cv2.GaussianBlur(llr, (0, 0), sigma)
    blobs = (smooth > 0).view(np.uint8)
    n, labels, stats, centres = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    if n <= 1:
        return None
    flat = labels.ravel()
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    evidence = np.bincount(flat, (llr.ravel() > 0).astype(np.float64), n) / areas
    strength = np.bincount(flat, llr.ravel().astype(np.float64), n) / areas
    ok = (areas >= 4) & (strength >= cfg.locate_llr)
    if expected:
        lo, hi = cfg.locate_area
        ok &= (areas >= lo * expected) & (areas <= hi * expected)
    ok[0] = False
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, evidence, -1.0)))
    score = float(evidence[best])
    if score < cfg.reappear_evidence:
        return None
    cx, cy = centres[best]
    return float((cx + 0.5) / s - 0.5), float((cy + 0.5) / s - 0.5), score
