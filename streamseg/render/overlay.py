"""Drawing masks over frames: a translucent bright fill per object, outlined in its colour
with a black or white edge around that (colours: streamseg/render/colours.py)."""

from __future__ import annotations

import numpy as np

from streamseg.render.colours import PALETTE, davis_palette, object_colour, outline_colour
from streamseg.types import FrameResult

__all__ = ["PALETTE", "davis_palette", "draw_overlay", "object_colour"]


def draw_overlay(result: FrameResult, alpha: float = 0.5, outline: int = 2) -> np.ndarray:
    """The frame with each present mask filled at ``alpha`` and outlined; (H, W, 3) uint8.

    outline: width in pixels of the band inside the mask's edge drawn in the object's
    colour; a band half as wide (at least 1 px) just outside the edge is drawn in
    ``outline_colour``, so the outline shows even where the footage has the object's
    colour. 0 draws neither.
    """
    import cv2

    image = result.frame.image.copy()
    height, width = image.shape[:2]
    halo = max(1, (outline + 1) // 2) if outline else 0
    for k, (mask, present) in enumerate(zip(result.masks, result.present)):
        if not present:
            continue
        colour = object_colour(k)
        ys, xs = np.nonzero(mask)
        if not len(ys):
            continue
        # Only the object's box (and the halo around it) is touched: cost scales with
        # the object, not the frame.
        y0, y1 = max(0, ys.min() - halo), min(height, ys.max() + 1 + halo)
        x0, x1 = max(0, xs.min() - halo), min(width, xs.max() + 1 + halo)
        crop, m = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        crop[m] = (crop[m] * (1 - alpha) + colour * alpha).astype(np.uint8)
        if outline:
            m8 = m.astype(np.uint8)
            inner = np.ones((2 * outline + 1,) * 2, np.uint8)
            edge = (m8 - cv2.erode(m8, inner, borderType=cv2.BORDER_CONSTANT)).astype(bool)
            outer = np.ones((2 * halo + 1,) * 2, np.uint8)
            ring = (cv2.dilate(m8, outer) - m8).astype(bool)
            crop[ring] = outline_colour(colour)
            crop[edge] = colour
    if result.frame.gaze is not None:  # where the wearer looked: a ring with a dot
        centre = (int(round(result.frame.gaze[0])), int(round(result.frame.gaze[1])))
        radius = max(6, min(image.shape[:2]) // 60)
        cv2.circle(image, centre, radius, (255, 255, 0), 2, cv2.LINE_AA)
        cv2.circle(image, centre, 2, (255, 255, 0), -1, cv2.LINE_AA)
    return image
