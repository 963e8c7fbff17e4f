"""Mask helpers shared by the renderers: selecting objects, growing, feathering, pasting."""

from __future__ import annotations

import cv2
import numpy as np

from streamseg.types import FrameResult, mask_box


def object_masks(result: FrameResult, objects: list[int] | None) -> list[tuple[int, np.ndarray]]:
    """(object id, (H, W) bool mask) for each selected object that is present and non-empty."""
    out = []
    for oid, mask, present in zip(result.object_ids, result.masks, result.present, strict=True):
        if present and (objects is None or oid in objects) and mask.any():
            out.append((oid, mask.astype(bool, copy=False)))
    return out


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """(H, W) bool ``mask`` grown by ``pixels`` (an elliptical structuring element)."""
    if pixels <= 0:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1,) * 2)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def feather_alpha(mask: np.ndarray, grow: int, feather: int) -> tuple[np.ndarray, np.ndarray]:
    """The region to re-render and its blending weight.

    Returns region (H, W) bool = ``mask`` dilated by ``grow`` px, and alpha (H, W)
    float32: 1 on the mask, ramping down to ~0 over ``feather`` px at the region's
    edge, and exactly 0 outside the region (so those pixels stay the source's).
    """
    region = dilate(mask, grow)
    alpha = np.zeros(mask.shape, np.float32)
    x0, y0, x1, y1 = (int(v) for v in mask_box(region))
    if x1 <= x0:
        return region, alpha
    # Distance to the region's edge, on its box only (cost follows the object). Beyond
    # an inner side of the box is outside the region (zero padding); beyond a side on
    # the frame border is not an edge at all (replicated), so no fade-out there.
    crop = region[y0:y1, x0:x1].astype(np.uint8)
    pad = np.pad(crop, 1)
    h, w = mask.shape
    if y0 == 0:
        pad[0, 1:-1] = crop[0]
    if y1 == h:
        pad[-1, 1:-1] = crop[-1]
    if x0 == 0:
        pad[1:-1, 0] = crop[:, 0]
    if x1 == w:
        pad[1:-1, -1] = crop[:, -1]
    dist = cv2.distanceTransform(pad, cv2.DIST_L2, 3)[1:-1, 1:-1]
    ramp = np.clip(dist / (feather + 1), 0, 1) if feather > 0 else (dist > 0).astype(np.float32)
    ramp[mask[y0:y1, x0:x1]] = 1.0
    alpha[y0:y1, x0:x1] = ramp
    return region, alpha


def paste(
    canvas: np.ndarray, patch: np.ndarray, alpha: np.ndarray, origin: tuple[int, int]
) -> None:
    """Blend ``patch`` (h, w, 3) uint8 into ``canvas`` (H, W, 3) uint8 in place at (x0, y0).

    alpha: (h, w) float32 weights of the patch. Where alpha is 0 the canvas is not
    written at all, so those pixels stay bit-exact.
    """
    x0, y0 = origin
    h, w = patch.shape[:2]
    target = canvas[y0 : y0 + h, x0 : x0 + w]
    a = alpha[..., None]
    blend = (patch.astype(np.float32) * a + target.astype(np.float32) * (1 - a) + 0.5).astype(
        np.uint8
    )
    np.copyto(target, blend, where=a > 0)
