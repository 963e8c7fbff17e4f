"""Drawing masks over frames: translucent colour fill and a solid outline per object."""

from __future__ import annotations

import numpy as np

from streamseg.types import FrameResult


def davis_palette() -> np.ndarray:
    """The DAVIS/PASCAL VOC palette: (256, 3) uint8, index 0 black, 1 red, 2 green..."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


PALETTE = davis_palette()


def object_colour(position: int) -> np.ndarray:
    """(3,) uint8 RGB colour of the object at ``position`` (0-based) in the results."""
    return PALETTE[1 + position % 255]


def draw_overlay(result: FrameResult, alpha: float = 0.5, outline: int = 2) -> np.ndarray:
    """The frame with each present mask filled at ``alpha`` and outlined; (H, W, 3) uint8."""
    import cv2

    image = result.frame.image.copy()
    for k, (mask, present) in enumerate(zip(result.masks, result.present)):
        if not present:
            continue
        colour = object_colour(k)
        ys, xs = np.nonzero(mask)
        if not len(ys):
            continue
        # Only the object's box is touched: cost scales with the object, not the frame.
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        crop, m = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        crop[m] = (crop[m] * (1 - alpha) + colour * alpha).astype(np.uint8)
        if outline:
            m8 = m.astype(np.uint8)
            kernel = np.ones((2 * outline + 1,) * 2, np.uint8)
            edge = (m8 - cv2.erode(m8, kernel, borderType=cv2.BORDER_CONSTANT)).astype(bool)
            crop[edge] = colour
    if result.frame.gaze is not None:  # where the wearer looked: a ring with a dot
        centre = (int(round(result.frame.gaze[0])), int(round(result.frame.gaze[1])))
        radius = max(6, min(image.shape[:2]) // 60)
        cv2.circle(image, centre, radius, (255, 255, 0), 2, cv2.LINE_AA)
        cv2.circle(image, centre, 2, (255, 255, 0), -1, cv2.LINE_AA)
    return image
