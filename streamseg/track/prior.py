"""Where an object probably is on the new frame, from motion alone: the prior.

The tracker hands every engine a soft mask (H, W) float32 in [0, 1]. It is built
as a logit from up to four motion cues, on a crop around the object:

- the last mask carried by the dense flow, as a signed distance to the carried
  boundary (so the boundary may move by a few pixels, thin parts stay positive);
- where the dense flow is unreliable (occlusions, disocclusions, blur), the last
  mask moved by the object's overall motion instead, trusted less;
- the object's remembered extent (hidden parts included): where the object is
  expected but the flow says it is not visible, the prior is raised to nearly
  undecided (its colours may bring it back);
- motion segmentation: a pixel whose flow matches the background's motion (an
  affine fitted around the object) rather than the object's is evidence against the
  object. It stops masks leaking onto background of the same colour, which carrying
  a mask and comparing colours cannot see. (Only against: the background is rarely
  one affine motion, so "moves unlike the background" proves little.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamseg.checks import check_numbers
from streamseg.flow import FlowField, pixel_grid


@dataclass
class PriorConfig:
    """Settings of the motion prior (pixels are full-resolution unless said).

    boundary_sigma: pixels per unit of logit away from the carried boundary.
    clip: largest logit of the carried mask.
    rigid_clip: largest logit of the mask moved by the overall motion.
    margin: crop margin around the object, as a fraction of its larger side.
    min_margin: smallest crop margin.
    hidden_logit: the logit given where the object is expected but was not carried.
    motion_weight: weight of the motion-segmentation evidence against the object (0 off).
    motion_sigma: flow residual (reduced-scale pixels) that counts as a match.
    motion_clip: largest motion evidence, in logits.
    motion_contrast: difference (reduced-scale pixels) between the object's and the
        background's motion below which motion says nothing; full weight at twice it.
    grow_weight: while an object grows (``object_prior(grow=True)``), the weight of the
        evidence for pixels that move like it, relative to that against.
    grow_floor: while it grows, the lowest prior logit away from the carried mask.
    grow_margin: while it grows, the crop margin (fraction of its larger side).
    """

    boundary_sigma: float = 3.0
    clip: float = 6.0
    rigid_clip: float = 1.5
    margin: float = 0.3
    min_margin: int = 24
    hidden_logit: float = -1.0
    motion_weight: float = 1.0
    motion_sigma: float = 1.0
    motion_clip: float = 3.0
    motion_contrast: float = 1.0
    grow_weight: float = 2.0
    grow_floor: float = 1.0
    grow_margin: float = 0.5

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        check_numbers(self, "tracker.prior", signed=("hidden_logit",))


def _box(
    masks: list[np.ndarray], cfg: PriorConfig, margin: float | None = None
) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 covering every (H, W) bool mask given, plus a margin."""
    union = np.logical_or.reduce(masks)
    ys = np.flatnonzero(union.any(axis=1))
    if not len(ys):
        return None
    xs = np.flatnonzero(union.any(axis=0))
    x0, x1, y0, y1 = int(xs[0]), int(xs[-1]) + 1, int(ys[0]), int(ys[-1]) + 1
    m = max(cfg.min_margin, int((margin or cfg.margin) * max(x1 - x0, y1 - y0)))
    h, w = union.shape
    return max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """(h, w) float32 distance to the boundary of a (h, w) bool mask: > 0 inside."""
    m = mask.astype(np.uint8)
    d_in = cv2.distanceTransform(m, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
    return np.where(m > 0, d_in - 0.5, 0.5 - d_out).astype(np.float32)


def _fit_affine(points: np.ndarray, flow: np.ndarray, limit: int = 300) -> np.ndarray | None:
    """Affine (2, 3) mapping (K, 2) points to points + flow, by RANSAC; None if unfit."""
    if len(points) < 12:
        return None
    if len(points) > limit:
        pick = np.random.default_rng(0).choice(len(points), limit, replace=False)
        points, flow = points[pick], flow[pick]
    src = points.astype(np.float32)
    affine, inliers = cv2.estimateAffine2D(
        src, src + flow, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=100
    )
    if affine is None or inliers is None or inliers.mean() < 0.3:
        return None
    return affine


def motion_evidence(
    flow: FlowField,
    prob: np.ndarray,
    box: tuple[int, int, int, int],
    cfg: PriorConfig,
    grow: float = 0.0,
) -> np.ndarray | None:
    """(h, w) float32 logit evidence (<= 0) on the full-resolution crop ``box``.

    prob: (h, w) float32 the prior so far on that crop; it labels the samples (> 0.9
    object, < 0.1 background) that fit the object's and the background's affine
    motion. Negative where a pixel's backward flow fits the background's motion and not
    the object's. With ``grow`` > 0, also positive (up to ``grow`` times as strong)
    where it fits the object's motion and not the background's. None when either
    motion cannot be fitted.
    """
    # Work on every other pixel of the reduced-scale flow: motion is smooth, this is cheap.
    s = flow.scale / 2
    x0, y0, x1, y1 = box
    sw, sh = max(2, round((x1 - x0) * s)), max(2, round((y1 - y0) * s))
    fx0, fy0 = x0 * flow.scale, y0 * flow.scale
    fx1, fy1 = x1 * flow.scale, y1 * flow.scale
    # Crop and shrink the flow and its reliability in one affine resample each.
    m = np.array([[(fx1 - fx0) / sw, 0, fx0], [0, (fy1 - fy0) / sh, fy0]], np.float32)
    inv = cv2.invertAffineTransform(m)
    f = cv2.warpAffine(
        flow.backward_small, inv, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    u = cv2.warpAffine(
        flow.unreliable_small,
        inv,
        (sw, sh),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    p = cv2.resize(prob, (sw, sh), interpolation=cv2.INTER_AREA)
    gx, gy = pixel_grid(sh, sw)
    # Sample positions in reduced-scale pixels, so the affine fits are in flow units.
    px = fx0 + gx * ((fx1 - fx0) / sw)
    py = fy0 + gy * ((fy1 - fy0) / sh)
    grid = np.stack([px, py], axis=-1)
    ok = u < 0.5
    models = [_fit_affine(grid[sel], f[sel]) for sel in ((p > 0.9) & ok, (p < 0.1) & ok)]
    if models[0] is None or models[1] is None:
        return None
    f_obj = grid @ models[0][:, :2].T + models[0][:, 2] - grid
    f_bg = grid @ models[1][:, :2].T + models[1][:, 2] - grid
    # Place each pixel's flow on the segment from the background's motion (0) to the
    # object's (1). Dense flow smears motion across boundaries, so the halfway point
    # is the best guess of where one ends and the other begins.
    d = f_obj - f_bg
    sep2 = np.maximum((d**2).sum(axis=2), 1e-6)
    rel = f - f_bg
    alpha = (rel * d).sum(axis=2) / sep2
    perp = np.sqrt(np.maximum((rel**2).sum(axis=2) - alpha**2 * sep2, 0.0))
    sep = np.sqrt(sep2)
    # Evidence grows with the motion contrast (none when both move alike, where flow
    # noise would decide) and fades for flow that fits neither motion (a swinging
    # leg, a flow error). Only evidence *against* the object is used: the background
    # is rarely one affine motion (parallax), so "moves unlike the background" is weak
    # evidence for the object, while "moves like the background" is strong against.
    contrast = np.clip((sep - cfg.motion_contrast) / cfg.motion_contrast, 0.0, 1.0)
    fit = np.exp(-0.5 * (perp / (cfg.motion_sigma + 0.3 * sep)) ** 2)
    side = np.clip(2.0 * alpha - 1.0, -1.0, 1.0)
    side = np.where(side < 0, side, grow * side)
    ev = side * contrast * fit * (1.0 - u)
    ev = ev.astype(np.float32) * cfg.motion_clip
    return cv2.resize(ev, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)


def object_prior(
    flow: FlowField,
    mask: np.ndarray | None,
    motion: np.ndarray,
    extent: np.ndarray | None,
    cfg: PriorConfig,
    grow: bool = False,
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the object's prior on the current frame.

    grow: the object's extent is still uncertain (the first frames after a click):
    pixels that move like the object and unlike the background count for it, and
    away from the carried mask the prior is no more negative than -grow_floor, so
    such motion can extend the mask to the whole moving object.

    mask: (H, W) bool last mask (None when the object was out of sight); motion: (2, 3)
    its overall motion, previous -> current; extent: (H, W) float32 its extent, already
    moved into the current frame (or None).
    """
    h, w = flow.backward.shape[:2]
    out = np.zeros((h, w), np.float32)
    parts = []
    if mask is not None:
        warped = flow.warp(mask) > 0.5
        rigid = flow.warp_affine(mask, motion) > 0.5
        parts += [warped, rigid]
    expected = extent > 0.5 if extent is not None else None
    if expected is not None:
        parts.append(expected)
    box = _box(parts, cfg, cfg.grow_margin if grow else None) if parts else None
    if box is None:
        return out
    x0, y0, x1, y1 = box
    crop = (slice(y0, y1), slice(x0, x1))
    logit: np.ndarray = np.full((y1 - y0, x1 - x0), -cfg.clip, np.float32)
    if mask is not None:
        u = flow.unreliable[crop]
        carried = np.clip(signed_distance(warped[crop]) / cfg.boundary_sigma, -cfg.clip, cfg.clip)
        moved = signed_distance(rigid[crop]) / cfg.boundary_sigma
        moved = np.clip(moved, -cfg.rigid_clip, cfg.rigid_clip)
        logit = carried + u * (moved - carried)
    if expected is not None:
        # Expected but not carried: nearly undecided, so clear evidence from the engine
        # (the object's own colours) may bring it back.
        logit = np.where(expected[crop], np.maximum(logit, cfg.hidden_logit), logit)
    growing = grow and cfg.grow_weight > 0 and mask is not None
    # The samples that fit the two motions are labelled by the carried mask alone.
    prob = 1.0 / (1.0 + np.exp(-logit))
    if growing:
        logit = np.maximum(logit, -cfg.grow_floor)
    if cfg.motion_weight > 0 and mask is not None:
        ev = motion_evidence(flow, prob, box, cfg, cfg.grow_weight if growing else 0.0)
        if ev is not None:
            logit = logit + cfg.motion_weight * ev
    out[crop] = 1.0 / (1.0 + np.exp(-logit))
    return out
