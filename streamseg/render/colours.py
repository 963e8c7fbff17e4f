"""Colours: bright per-object overlay colours with a contrasting outline, and the DAVIS
palette of the exported label PNGs.

The overlay must show objects on any footage, so its colours are saturated and light
(rare in natural scenes) and every outline gets a second, black or white, edge: where
the footage has the object's colour, the edge still separates it. The DAVIS palette is
kept for PNG export only, where tools expect it (its object 1 is a dark red that vanishes
on red or dark footage).
"""

from __future__ import annotations

import colorsys

import numpy as np

# High-saturation hues spaced around the colour wheel, ordered so that consecutive
# objects differ most (magenta, cyan, yellow, lime, orange, violet, spring green, rose).
BRIGHT = np.array(
    [
        (255, 0, 200),
        (0, 220, 255),
        (255, 230, 0),
        (120, 255, 0),
        (255, 100, 0),
        (160, 90, 255),
        (0, 255, 160),
        (255, 60, 100),
    ],
    np.uint8,
)
GOLDEN = 0.618033988749895  # hues after the list: golden-ratio steps never repeat


def object_colour(position: int) -> np.ndarray:
    """(3,) uint8 RGB overlay colour of the object at ``position`` (0-based) in the results.

    The first ``len(BRIGHT)`` objects get the fixed list; later ones hues in golden-ratio
    steps (value 1, saturation 0.8 or 0.6 in turn: lighter than the fixed list, so a
    hue that comes back near one of those still looks different).
    """
    if position < 0:
        raise ValueError(f"object position must be >= 0, got {position}")
    if position < len(BRIGHT):
        return BRIGHT[position].copy()
    k = position - len(BRIGHT)
    hue = (0.35 + k * GOLDEN) % 1.0
    saturation = 0.8 if k % 2 == 0 else 0.6
    rgb = colorsys.hsv_to_rgb(hue, saturation, 1.0)
    return np.round(np.array(rgb) * 255).astype(np.uint8)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB uint8 values (..., 3): 0 (black) .. 1 (white)."""
    c = np.asarray(rgb, np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WCAG contrast ratio of two sRGB colours (..., 3): 1 (same) .. 21 (black on white)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def outline_colour(colour: np.ndarray) -> np.ndarray:
    """(3,) uint8: black or white, whichever contrasts more with ``colour``.

    Chosen against the colour, not the frame, so it does not flicker from frame to
    frame; together the two edges stand out on any background: the black (or white)
    edge where the footage is light or has the object's colour, the bright colour
    where the footage is dark.
    """
    black, white = np.zeros(3, np.uint8), np.full(3, 255, np.uint8)
    return black if contrast_ratio(colour, black) >= contrast_ratio(colour, white) else white


def davis_palette() -> np.ndarray:
    """The DAVIS/PASCAL VOC palette: (256, 3) uint8, index 0 black, 1 dark red, 2 green..."""
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
