"""DAVIS scores: region similarity J and boundary accuracy F.

Follows the DAVIS toolkit (davis2017-evaluation, ``metrics.py``): J is the IoU of
the two masks; F matches the one-pixel-wide boundaries of prediction and truth
within a tolerance of ``ceil(bound_th * image diagonal)`` pixels (a disk
dilation) and takes the F-measure of boundary precision and recall. Sequence
means leave out the first frame (it is given) and the last one, as the toolkit does
for the semi-supervised task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from streamseg.errors import UsageError


def _as_bool(name: str, mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise UsageError(f"{name}: expected a (H, W) mask, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_bool("pred", pred), _as_bool("gt", gt)
    if pred.shape != gt.shape:
        raise UsageError(f"pred has shape {pred.shape} but gt has {gt.shape}; give masks alike")
    return pred, gt


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Region similarity J: IoU of two (H, W) masks (any dtype, nonzero = object).

    Both empty counts as a perfect 1.0 (the toolkit's convention).
    """
    pred, gt = _check_pair(pred, gt)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary (H, W) bool of a (H, W) mask, as the toolkit's ``_seg2bmap``.

    A pixel is on the boundary when it differs from its east, south or south-east
    neighbour; the last row and column compare within themselves only.
    """
    seg = _as_bool("seg", seg)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def disk(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) uint8 disk, x² + y² <= r² (skimage.morphology.disk)."""
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).astype(np.uint8)


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """Boundary accuracy F of two (H, W) masks.

    bound_th < 1 is a fraction of the image diagonal, >= 1 a pixel count. Both
    boundaries empty gives 1.0; one empty gives 0.0.
    """
    pred, gt = _check_pair(pred, gt)
    if bound_th >= 1:
        radius = int(math.ceil(bound_th))
    else:
        radius = int(math.ceil(bound_th * math.hypot(*pred.shape)))
    pb, gb = seg2bmap(pred), seg2bmap(gt)
    n_p, n_g = int(np.count_nonzero(pb)), int(np.count_nonzero(gb))
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        # precision 1 / recall 0 (or the reverse): F = 0.
        return 0.0
    kernel = disk(radius)
    p_dil = cv2.dilate(pb.view(np.uint8), kernel).astype(bool)
    g_dil = cv2.dilate(gb.view(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pb & g_dil) / n_p
    recall = np.count_nonzero(gb & p_dil) / n_g
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass
class SequenceScore:
    """Per-frame scores of one sequence (frames 1 .. T-2) and their means.

    J, F: per-frame lists, the first and last frame left out. j_mean, f_mean, jf:
    their means and (j_mean + f_mean) / 2.
    """

    J: list[float]
    F: list[float]
    j_mean: float
    f_mean: float
    jf: float


def score_sequence(
    preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], bound_th: float = 0.008
) -> SequenceScore:
    """Score a sequence of T (H, W) predicted masks against T ground-truth masks.

    The first frame (given to the tracker) and the last are left out, as the DAVIS
    semi-supervised protocol does; T must be at least 3.
    """
    if len(preds) != len(gts):
        raise UsageError(f"{len(preds)} predicted masks but {len(gts)} ground-truth masks")
    if len(preds) < 3:
        raise UsageError(f"a sequence needs at least 3 frames to score, got {len(preds)}")
    js = [jaccard(p, g) for p, g in zip(preds[1:-1], gts[1:-1])]
    fs = [boundary_f(p, g, bound_th) for p, g in zip(preds[1:-1], gts[1:-1])]
    j_mean, f_mean = float(np.mean(js)), float(np.mean(fs))
    return SequenceScore(J=js, F=fs, j_mean=j_mean, f_mean=f_mean, jf=(j_mean + f_mean) / 2)
