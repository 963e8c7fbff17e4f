"""The weight-free remover: flow-guided background propagation plus cv2.inpaint.

The synthetic clip has a known background (a textured plane seen by a panning camera)
and an object moving over it, so the removed region can be scored against the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamseg.errors import UsageError
from streamseg.render.inpaint import InpaintConfig, build_inpainter
from streamseg.render.masks import feather_alpha
from streamseg.render.remove import BackgroundFlow, FlowRemover, fill_hole_flow
from streamseg.testing.clips import psnr, removal_clip, result_for


def run_remover(remover, frames, masks) -> list[np.ndarray]:
    return [remover(result_for(f, [m], t)) for t, (f, m) in enumerate(zip(frames, masks))]


def test_flow_guided_beats_per_frame_inpaint_on_known_background():
    frames, backgrounds, masks = removal_clip()
    scores = {}
    for name, ring in (("flow", 12), ("plain", 0)):
        out = run_remover(FlowRemover(InpaintConfig(mode="remove", ring=ring)), frames, masks)
        # From frame 4 on the past has seen most of what the object hides.
        values = [psnr(o, b, m) for o, b, m in zip(out[4:], backgrounds[4:], masks[4:])]
        scores[name] = float(np.mean(values))
    assert scores["flow"] > scores["plain"] + 3.0, scores
    assert scores["flow"] > 24.0, scores


def test_outside_dilated_mask_is_exactly_the_source():
    frames, _, masks = removal_clip(n=6)
    config = InpaintConfig(mode="remove", dilate=5, feather=3)
    remover = FlowRemover(config)
    for t, (f, m) in enumerate(zip(frames, masks)):
        out = remover(result_for(f, [m], t))
        region, _ = feather_alpha(m, config.dilate, config.feather)
        assert out.shape == f.shape and out.dtype == np.uint8
        assert np.array_equal(out[~region], f[~region])
        assert not np.array_equal(out[m], f[m])  # the object is gone


def test_object_selection_absent_objects_and_empty_frames():
    frames, _, masks = removal_clip(n=3)
    other = np.zeros_like(masks[0])
    other[5:20, 5:30] = True
    remover = FlowRemover(InpaintConfig(mode="remove", objects=[2]))
    out = remover(result_for(frames[0], [masks[0], other]))
    assert np.array_equal(out[masks[0]], frames[0][masks[0]])  # object 1 not selected
    assert not np.array_equal(out[other], frames[0][other])
    # No objects at all, and a selected object that is not present: frame unchanged.
    assert np.array_equal(remover(result_for(frames[1], [], 1)), frames[1])
    empty = result_for(frames[2], [np.zeros_like(other)], 2, ids=[2])
    assert np.array_equal(remover(empty), frames[2])


def test_mask_at_frame_border():
    frames, _, _ = removal_clip(n=4)
    h, w = frames[0].shape[:2]
    mask = np.zeros((h, w), bool)
    mask[: h // 3, w - 30 :] = True  # the top-right corner, touching two borders
    remover = FlowRemover(InpaintConfig(mode="remove"))
    for t, f in enumerate(frames):
        out = remover(result_for(f, [mask], t))
        region, alpha = feather_alpha(mask, 8, 6)
        assert np.array_equal(out[~region], f[~region])
        assert alpha[0, w - 1] == 1.0  # no fade-out along the frame's own edge


def test_fill_hole_flow_extends_background_motion():
    h, w = 60, 80
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0  # the background moves (2, -1)
    hole = np.zeros((h, w), bool)
    hole[20:40, 30:50] = True
    flow[hole] = (-7.0, 5.0)  # the object moves differently
    filled = fill_hole_flow(flow, hole)
    assert np.allclose(filled[hole], (2.0, -1.0), atol=1e-3)
    assert np.array_equal(filled[~hole], flow[~hole])


def test_background_flow_first_frame_and_shape():
    frames, _, masks = removal_clip(n=2)
    bg = BackgroundFlow(0.5)
    assert bg.step(frames[0], masks[0]) is None
    back = bg.step(frames[1], masks[1])
    assert back is not None and back.shape == (72, 96, 2) and back.dtype == np.float32
    # The camera pans 1.5 px/frame across the plane: what is at x now was at x + 1.5.
    full = bg.full(back, (192, 144))
    assert abs(float(np.median(full[..., 0])) - 1.5) < 0.3


def test_factory_opencv_and_replace_refused():
    renderer, meta = build_inpainter(InpaintConfig(mode="remove", backend="opencv"), "cpu")
    assert isinstance(renderer, FlowRemover)
    assert meta["backend"] == "opencv" and meta["settings"]["ring"] == 3
    renderer.close()
    with pytest.raises(UsageError, match="replace"):
        InpaintConfig(mode="replace", prompt="a vase", backend="opencv")
    with pytest.raises(UsageError, match="prompt"):
        InpaintConfig(mode="replace")
