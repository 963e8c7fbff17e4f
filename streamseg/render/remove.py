"""Weight-free object removal: background carried in from past frames along the flow.

A moving object (or a moving camera) uncovers, over time, most of the background the
object hides now. ``FlowRemover`` keeps a short ring buffer of past *rendered* frames
and, for each pixel of the current hole, follows the optical flow back frame by
frame until it lands on a pixel some past frame saw unmasked: that real background
is copied in (most recent first, so the flow has the least time to drift). Pixels no
frame in the ring saw take the previous frame's fill, carried along the same flow,
so a synthetic fill stays put instead of being re-invented every frame. What is
left (the first frame, or newly covered area no frame saw) is filled by
``cv2.inpaint`` (Telea or Navier-Stokes).

Inside a hole the measured flow is the *object's* motion, not the background's, so
``BackgroundFlow`` replaces it with an affine motion fitted (RANSAC) to the flow in a
band around the hole: the background's motion, extended under the object.
Everything is causal (past frames only) so it streams; memory is ``ring`` frames.
The mask helpers both renderers share (object selection, dilation, feathered paste)
are in masks.py.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from streamseg.flow import PRESETS, small_gray
from streamseg.render.inpaint_config import InpaintConfig
from streamseg.render.masks import dilate, feather_alpha, object_masks, paste
from streamseg.types import FrameResult, mask_box

log = logging.getLogger(__name__)

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
GAP = 6  # reduced-resolution pixels of smeared flow around a hole (measured on DIS medium)


# ---------------------------------------------------------------- masks, paste


class OpenCVCropModel:
    """cv2.inpaint as a crop model: weight-free, for measuring the schedule without weights."""

    multiple = 8

    def __init__(self, method: str = "telea", radius: int = 5, resolution: int = 256) -> None:
        self.flag, self.radius, self.resolution = METHODS[method], radius, resolution

    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, seed: int, strength: float | None = None
    ) -> np.ndarray:
        return cv2.inpaint(image, mask.astype(np.uint8), self.radius, self.flag)


# ---------------------------------------------------------------- flow


def fill_hole_flow(flow: np.ndarray, hole: np.ndarray, band: int = 16) -> np.ndarray:
    """Replace ``flow`` (h, w, 2) float32 inside ``hole`` (h, w) bool by the surrounding motion.

    An affine motion is fitted (RANSAC) to the flow vectors in a ``band``-pixel ring
    around the hole and evaluated inside it; with too few or inconsistent vectors the
    median vector of the ring is used. Returns a new array; outside the hole unchanged.
    """
    out = flow.copy()
    if not hole.any():
        return out
    ring = dilate(hole, band) & ~hole
    ys, xs = np.nonzero(ring)
    if not len(ys):  # the hole covers the whole frame: no background to follow
        out[hole] = 0.0
        return out
    step = max(1, len(ys) // 800)  # a few hundred vectors fit as well as thousands
    ys, xs = ys[::step], xs[::step]
    src = np.stack([xs, ys], 1).astype(np.float32)
    vec = flow[ys, xs]
    hy, hx = np.nonzero(hole)
    fill = np.broadcast_to(np.median(vec, 0), (len(hy), 2))
    if len(src) >= 12:
        affine, inliers = cv2.estimateAffine2D(
            src, src + vec, method=cv2.RANSAC, ransacReprojThreshold=0.5
        )
        if affine is not None and inliers is not None and inliers.mean() >= 0.3:
            pts = np.stack([hx, hy, np.ones_like(hx)], 1).astype(np.float32)
            fill = pts @ affine.T.astype(np.float32) - pts[:, :2]
    out[hy, hx] = fill
    return out


class BackgroundFlow:
    """Backward DIS flow between consecutive frames, with holes filled by background motion.

    ``step(image, hole)`` for each frame in order: image (H, W, 3) uint8 RGB, hole
    (H, W) bool (may be empty). Returns (h, w, 2) float32 at ``scale`` of the frame,
    in reduced-resolution pixels: for each current pixel, the offset to where it was
    in the previous frame; None on the first frame (or after a size change).
    """

    def __init__(self, scale: float = 0.5, preset: str = "medium") -> None:
        self.scale = scale
        self._dis: Any = cv2.DISOpticalFlow.create(PRESETS[preset])  # stubs: calc(flow=None)
        self._prev: np.ndarray | None = None
        self._prev_hole: np.ndarray | None = None

    def step(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray | None:
        small = small_gray(image, self.scale)
        h, w = small.shape
        hole_small = cv2.resize(hole.astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA) > 0
        prev, prev_hole = self._prev, self._prev_hole
        self._prev, self._prev_hole = small, hole_small
        if prev is None or prev.shape != small.shape or prev_hole is None:
            return None
        back = self._dis.calc(small, prev, None)
        # The object was in last frame's hole too, and DIS smears its motion well past
        # its edge (its patches and smoothing span several pixels): overwrite the
        # union grown by GAP, fitting the motion only on flow beyond that.
        fill = dilate(hole_small | prev_hole, GAP)
        return fill_hole_flow(back, fill) if fill.any() else back

    def full(self, back: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(H, W, 2) float32 full-resolution version of a ``step`` result; size = (W, H)."""
        w, h = size
        out = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
        out[..., 0] *= w / back.shape[1]
        out[..., 1] *= h / back.shape[0]
        return out


@dataclass
class _Past:
    """One remembered frame: rendered (H, W, 3) uint8, hole (H, W) float32 (1 where
    rendered is not the source), back: its flow to the frame before it (or None)."""

    rendered: np.ndarray
    hole: np.ndarray
    back: np.ndarray | None


class FlowRemover:
    """Flow-guided removal renderer: ``__call__(result) -> (H, W, 3) uint8 RGB``.

    Uses ``config.objects``, ``dilate``, ``feather``, ``ring`` (0: no memory, which is
    plain per-frame cv2.inpaint), ``method``, ``radius`` and ``flow_scale``. ``stats``
    counts frames and hole pixels by where their value came from.
    """

    def __init__(self, config: InpaintConfig) -> None:
        self.config = config
        self.flow = BackgroundFlow(config.flow_scale)
        self.past: deque[_Past] = deque(maxlen=config.ring)
        self.stats = {"frames": 0, "propagated_px": 0, "carried_px": 0, "inpainted_px": 0}

    def __call__(self, result: FrameResult) -> np.ndarray:
        image = result.frame.image
        h, w = image.shape[:2]
        if self.past and self.past[-1].rendered.shape != image.shape:
            self.past.clear()
        targets = object_masks(result, self.config.objects)
        mask = np.zeros((h, w), bool)
        for _, m in targets:
            mask |= m
        region, alpha = feather_alpha(mask, self.config.dilate, self.config.feather)
        back = self.flow.step(image, region) if self.config.ring else None
        self.stats["frames"] += 1
        if not targets:
            self.past.append(_Past(image, np.zeros((h, w), np.float32), back))
            return image
        x0, y0, x1, y1 = (int(v) for v in mask_box(region))
        fill = self._fill(image, region, back, (x0, y0, x1, y1))
        out = image.copy()
        paste(out, fill, alpha[y0:y1, x0:x1], (x0, y0))
        self.past.append(_Past(out, region.astype(np.float32), back))
        return out

    def _fill(
        self, image: np.ndarray, region: np.ndarray, back: np.ndarray | None, box: tuple
    ) -> np.ndarray:
        """Fill values (y1-y0, x1-x0, 3) uint8 for the region's box (valid on the region)."""
        x0, y0, x1, y1 = box
        h, w = image.shape[:2]
        todo = region[y0:y1, x0:x1].copy()
        fill = image[y0:y1, x0:x1].copy()
        px, py = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        first = None
        flow = back
        for past in reversed(self.past):  # most recent first
            if flow is None:
                break
            sx, sy = flow.shape[1] / w, flow.shape[0] / h
            f = cv2.remap(flow, px * sx, py * sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            px, py = px + f[..., 0] / sx, py + f[..., 1] / sy
            inside = (px >= 0) & (py >= 0) & (px <= w - 1) & (py <= h - 1)
            if first is None:
                first = (px, py, inside)
            # Real background: every bilinear neighbour outside that frame's hole.
            hole = cv2.remap(
                past.hole, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0
            )
            real = todo & inside & (hole < 1e-3)
            if real.any():
                fill[real] = cv2.remap(past.rendered, px, py, cv2.INTER_LINEAR)[real]
                todo &= ~real
                self.stats["propagated_px"] += int(real.sum())
            if not todo.any():
                return fill
            flow = past.back
        if first is not None:  # never seen: keep the previous fill, carried along the flow
            px, py, inside = first
            use = todo & inside
            if use.any():
                fill[use] = cv2.remap(self.past[-1].rendered, px, py, cv2.INTER_LINEAR)[use]
                todo &= ~use
                self.stats["carried_px"] += int(use.sum())
        if todo.any():
            self._inpaint(image, fill, todo, box)
        return fill

    def _inpaint(self, image: np.ndarray, fill: np.ndarray, todo: np.ndarray, box: tuple) -> None:
        """cv2.inpaint ``todo`` in ``fill`` in place, with the frame around it as context."""
        x0, y0, x1, y1 = box
        h, w = image.shape[:2]
        pad = 2 * self.config.radius + 2  # the context cv2.inpaint reads around the hole
        cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
        context = image[cy0:cy1, cx0:cx1].copy()
        context[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = fill
        hole = np.zeros(context.shape[:2], np.uint8)
        hole[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = todo
        done = cv2.inpaint(context, hole, self.config.radius, METHODS[self.config.method])
        fill[todo] = done[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0][todo]
        self.stats["inpainted_px"] += int(todo.sum())

    def close(self) -> None:
        self.past.clear()
