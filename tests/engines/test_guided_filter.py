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


def test_the_classic_engine_snaps_a_shifted_prior_to_an_isoluminant_edge():
    """A red disc on a green backdrop of the same grey; the tracker's prior is the disc
    3 px off and blurred. The engine's default (colour) guide puts the mask on the
    disc; with the grey guide it stays where the prior was. The local colour evidence
    (which also sees the edge) is off, so the guide alone decides."""
    from streamseg.engines.base import ObjectPrompt
    from streamseg.engines.classic import ClassicConfig, ClassicEngine
    from streamseg.eval.metrics import boundary_f, jaccard

    h, w = 120, 160
    truth = np.zeros((h, w), np.uint8)
    cv2.circle(truth, (80, 60), 30, 1, -1)
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 1] = round(200 * 0.299 / 0.587)
    image[truth > 0] = (200, 0, 0)
    noise = np.random.default_rng(0).normal(0, 3, image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)
    assert abs(grey[truth > 0].mean() - grey[truth == 0].mean()) < 2
    prior = np.zeros((h, w), np.uint8)
    cv2.circle(prior, (83, 60), 30, 1, -1)
    prompt = ObjectPrompt(
        np.zeros((0, 2), np.float32),
        np.zeros(0, np.int32),
        mask=cv2.GaussianBlur(prior.astype(np.float32), (0, 0), 2),
    )
    found = {}
    for colour in (True, False):
        engine = ClassicEngine(ClassicConfig(local_weight=0, guide_colour=colour))
        found[colour] = engine.segment(engine.embed([image])[0], [prompt])[0].mask
    assert ClassicConfig().guide_colour  # the default the first case stands for
    truth_b = truth.astype(bool)
    assert jaccard(found[True], truth_b) > 0.95 and boundary_f(found[True], truth_b) > 0.9
    assert jaccard(found[False], truth_b) < 0.9 and boundary_f(found[False], truth_b) < 0.7
