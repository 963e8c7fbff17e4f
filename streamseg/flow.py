"""Dense optical flow between consecutive frames, and what the tracker does with it.

The flow is computed once per frame for all objects, with OpenCV's DIS optical flow
on a reduced grey image (DIS is coarse-to-fine, so half resolution loses little on
the large displacements and gains 4x in speed). It is *backward* flow, from the
current frame to the previous one: for each current pixel ``x`` it says where that
pixel was, ``x + b(x)``, so a previous mask is carried forward by sampling it there
(``cv2.remap``), leaving no holes. An optional forward flow gives a forward-backward
consistency check (occlusions, flow failures) and carries points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from streamseg.errors import UsageError

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


MIN_FLOW_SIDE = 32


@functools.lru_cache(maxsize=4)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates, each (h, w) float32 (cached: the frame size rarely changes)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = False
    gy.flags.writeable = False
    return gx, gy


def small_gray(image: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) uint8 grey image at ``scale`` of a (H, W, 3) uint8 RGB frame."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    # OpenCV's DIS flow fails (or crashes) below MIN_FLOW_SIDE pixels a side: a very
    # wide or very small frame is stretched to that on its short side (the flow is
    # scaled back per axis, so the stretch costs nothing but a little accuracy)
    size = (max(MIN_FLOW_SIDE, round(w * scale)), max(MIN_FLOW_SIDE, round(h * scale)))
    if size == (w, h):
        return gray
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


@dataclass
class FlowField:
    """The flow between two frames, at full resolution.

    backward: (H, W, 2) float32, current pixel -> offset to where it was in the
        previous frame, in full-resolution pixels.
    unreliable: (H, W) float32 in [0, 1], how much not to trust the flow at each
        current pixel (forward-backward disagreement and brightness mismatch).
    forward: (h, w, 2) float32 at the reduced scale, previous -> current, or None.
    scale: the reduced scale the flow was computed at (h = round(H * scale)).
    backward_small, unreliable_small: the same as backward and unreliable at the
        reduced scale, in reduced-scale pixels (for work that needs no more detail).
    """

    backward: np.ndarray
    unreliable: np.ndarray
    forward: np.ndarray | None
    scale: float
    backward_small: np.ndarray
    unreliable_small: np.ndarray

    def __post_init__(self) -> None:
        h, w = self.backward.shape[:2]
        gx, gy = pixel_grid(h, w)
        # Absolute sampling maps for cv2.remap, built once and shared by every object.
        self._map_x = gx + self.backward[..., 0]
        self._map_y = gy + self.backward[..., 1]

    def warp(self, previous: np.ndarray) -> np.ndarray:
        """Carry a previous-frame (H, W) map (bool, uint8 or float) into the current frame.

        Returns (H, W) float32: bilinear, so a bool mask comes back soft at its edges;
        pixels that came from outside the frame get 0.
        """
        src = previous.astype(np.float32, copy=False)
        return cv2.remap(
            src, self._map_x, self._map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    def object_motion(self, previous: np.ndarray, samples: int = 400) -> np.ndarray | None:
        """Robust similarity transform (2, 3) float64 of an object, previous -> current.

        Fitted by RANSAC to the forward flow at reliable pixels inside the object's
        previous (H, W) bool mask, so it describes how the object as a whole moved
        even where the per-pixel flow fails (blur, occluders, disocclusions). None when
        there is no forward flow or too little of the object to fit.
        """
        if self.forward is None:
            return None
        s = self.scale
        fh, fw = self.forward.shape[:2]
        small = cv2.resize(previous.astype(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST)
        small = cv2.erode(small, np.ones((3, 3), np.uint8))
        ys, xs = np.nonzero(small)
        if len(xs) < 12:
            return None
        if len(xs) > samples:
            pick = np.random.default_rng(0).choice(len(xs), samples, replace=False)
            ys, xs = ys[pick], xs[pick]
        src = np.stack([xs, ys], 1).astype(np.float32)
        dst = src + self.forward[ys, xs]
        affine, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5, maxIters=200
        )
        if affine is None or inliers is None or inliers.mean() < 0.3:
            return None
        # Back to full-resolution pixels: A_full = S^-1 A S with S = diag(s, s).
        affine = affine.copy()
        affine[:, 2] /= s
        return affine

    def warp_affine(self, previous: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """A previous-frame (H, W) map moved by a (2, 3) transform; (H, W) float32."""
        h, w = previous.shape[:2]
        return cv2.warpAffine(
            previous.astype(np.float32, copy=False), affine, (w, h), flags=cv2.INTER_LINEAR
        )

    def carry_points(self, points: np.ndarray) -> np.ndarray:
        """Move (K, 2) float32 x, y points from the previous frame into the current one.

        With the forward flow this is a lookup; without it, the backward flow is
        inverted by a few fixed-point steps (x = p - b(x)).
        """
        points = np.asarray(points, np.float32).reshape(-1, 2)
        if not len(points):
            return points
        h, w = self.backward.shape[:2]
        if self.forward is not None:
            s = self.scale
            fh, fw = self.forward.shape[:2]
            ix = np.clip(np.round(points[:, 0] * s).astype(int), 0, fw - 1)
            iy = np.clip(np.round(points[:, 1] * s).astype(int), 0, fh - 1)
            return (points + self.forward[iy, ix] / s).astype(np.float32)
        x = points.copy()
        for _ in range(3):
            ix = np.clip(np.round(x[:, 0]).astype(int), 0, w - 1)
            iy = np.clip(np.round(x[:, 1]).astype(int), 0, h - 1)
            x = points - self.backward[iy, ix]
        return x.astype(np.float32)


@dataclass(frozen=True)
class ReducedFlow:
    """FlowEstimator.estimate's answer, at the reduced scale: backward (h, w, 2) and
    forward (or None) flow in reduced-scale pixels, unreliable (h, w) in [0, 1]."""

    backward: np.ndarray
    forward: np.ndarray | None
    unreliable: np.ndarray


class FlowEstimator:
    """Backward (and optionally forward) DIS flow between consecutive frames.

    scale: the resolution the flow is computed at, as a fraction of the frame's.
    max_side: the flow image's longest side, in pixels, at most (caps the cost on HD).
    preset: "ultrafast", "fast" or "medium" (DIS presets: speed vs accuracy).
    consistency: also compute the forward flow, for the forward-backward check.
    """

    def __init__(
        self,
        scale: float = 0.5,
        preset: str = "medium",
        consistency: bool = True,
        max_side: int = 480,
    ):
        if not 0 < scale <= 1:
            raise UsageError(f"flow scale {scale} is out of range; give 0 < scale <= 1")
        if preset not in PRESETS:
            raise UsageError(f"flow preset {preset!r} is unknown; use one of {sorted(PRESETS)}")
        self.scale = scale
        self.max_side = max_side
        self.consistency = consistency
        self._dis: Any = cv2.DISOpticalFlow.create(PRESETS[preset])  # stubs: calc(flow=None)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The reduced grey (h, w) uint8 image the flow works on, for a (H, W, 3) RGB frame.

        At ``scale`` of the frame, but no more than ``max_side`` pixels on its long side,
        so HD input costs no more than SD.
        """
        scale = min(self.scale, self.max_side / max(image.shape[:2]))
        return small_gray(image, scale)

    def compute(
        self, current: np.ndarray, previous: np.ndarray, size: tuple[int, int]
    ) -> FlowField:
        """Flow between two prepared grey images; ``size`` = full (width, height)."""
        return self.field(self.estimate(current, previous), size)

    def estimate(self, current: np.ndarray, previous: np.ndarray) -> ReducedFlow:
        """The flow at the reduced scale: the costly part of ``compute``."""
        back = self._dis.calc(current, previous, None)
        fwd = self._dis.calc(previous, current, None) if self.consistency else None
        return ReducedFlow(back, fwd, self._unreliability(current, previous, back, fwd))

    @staticmethod
    def field(reduced: ReducedFlow, size: tuple[int, int]) -> FlowField:
        """The FlowField at full ``size`` (width, height) of a reduced-scale estimate."""
        back, fwd, unreliable = reduced.backward, reduced.forward, reduced.unreliable
        rh, rw = back.shape[:2]
        w, h = size
        sx, sy = w / rw, h / rh
        back_full = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
        back_full[..., 0] *= sx
        back_full[..., 1] *= sy
        unreliable_full = cv2.resize(unreliable, (w, h), interpolation=cv2.INTER_LINEAR)
        return FlowField(back_full, unreliable_full, fwd, rw / w, back, unreliable)

    @staticmethod
    def _unreliability(
        current: np.ndarray, previous: np.ndarray, back: np.ndarray, fwd: np.ndarray | None
    ) -> np.ndarray:
        """(h, w) float32 in [0, 1] at the reduced scale: 0 = trust the flow here."""
        h, w = current.shape
        gx, gy = pixel_grid(h, w)
        mx, my = gx + back[..., 0], gy + back[..., 1]
        # Brightness constancy: the previous image sampled along the flow should look
        # like the current one; a large difference flags occlusion or a wrong vector.
        prev_warped = cv2.remap(previous, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        photo: np.ndarray = cv2.absdiff(current, prev_warped).astype(np.float32)
        photo = cv2.GaussianBlur(photo, (5, 5), 0)
        bad: np.ndarray = np.clip((photo - 12.0) / 30.0, 0.0, 1.0)
        if fwd is not None:
            # Forward-backward: going back then forward should return to the start.
            f_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            loop = back + f_at
            err = cv2.magnitude(loop[..., 0], loop[..., 1])
            mag = cv2.magnitude(back[..., 0], back[..., 1])
            fb = np.clip((err - 0.5 - 0.05 * mag) / 2.0, 0.0, 1.0)
            bad = np.maximum(bad, fb)
        outside = (mx < 0) | (my < 0) | (mx > w - 1) | (my > h - 1)
        bad[outside] = 1.0
        return bad.astype(np.float32)
