"""The guided filter: a map that is a linear function of the guide passes unchanged,
and the colour guide finds an edge between two colours of the same brightness,
which the grey guide cannot see."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamseg.engines.guided_filter import guided_filter_colour, guided_filter_grey


def _isoluminant_halves(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) float32 guide: red left, green right, of equal grey (OpenCV's weights);
    and the (h, w) float32 step that marks the left half."""
    guide = np.zeros((h, w, 3), np.float32)
    guide[:, : w // 2, 0] = 1.0
    guide[:, w // 2 :, 1] = 0.299 / 0.587
    step = np.zeros((h, w), np.float32)
    step[:, : w // 2] = 1.0
    return guide, step


def test_a_linear_function_of_the_colour_guide_passes_unchanged():
    rng = np.random.default_rng(0)
    guide = rng.random((60, 80, 3), dtype=np.float32)
    src = (0.3 * guide[..., 0] + 0.5 * guide[..., 1] - 0.2 * guide[..., 2] + 0.1).astype(np.float32)
    out = guided_filter_colour(guide, src, 4, 1e-8)
    assert np.abs(out - src).max() < 1e-4


@pytest.mark.parametrize("subsample", [1, 2])
def test_the_colour_guide_snaps_a_blurred_map_to_an_isoluminant_edge(subsample):
    guide, step = _isoluminant_halves()
    grey = cv2.cvtColor((guide * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    assert np.ptp(grey) <= 1  # the edge is invisible in grey
    blurred = cv2.GaussianBlur(step, (0, 0), 4)
    w = step.shape[1]
    near = [w // 2 - 1, w // 2]  # the two columns beside the edge
    colour = guided_filter_colour(guide, blurred, 4, 1e-3, subsample)
    flat = guided_filter_grey(grey.astype(np.float32) / 255, blurred, 4, 1e-3)
    # next to the edge the colour-guided map is much nearer the step than the input or
    # the grey-guided map (which only blurs it further)
    err_colour = np.abs(colour - step)[8:-8, near].max()
    assert err_colour < 0.7 * np.abs(blurred - step)[8:-8, near].max()
    assert err_colour < 0.7 * np.abs(flat - step)[8:-8, near].max()
    # thresholded, the colour-guided map is the left half exactly (away from the border)
    assert ((colour > 0.5) == (step > 0.5))[8:-8, 8:-8].all()
