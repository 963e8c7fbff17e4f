"""The weight-free remover: flow-guided background propagation plus cv2.inpaint.

The synthetic clip has a known background (a textured plane seen by a panning camera)
and an object moving over it, so the removed region can be scored against the truth.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamseg.errors import UsageError
from streamseg.render.inpaint import InpaintConfig, build_inpainter, feather_alpha
from streamseg.render.remove import BackgroundFlow, FlowRemover, fill_hole_flow
from streamseg.types import Frame, FrameResult, mask_box


def removal_clip(
    n: int = 24, width: int = 192, height: int = 144, seed: int = 0, speed: float = 4.5
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(frames, true backgrounds, object masks): lists of n (H, W, 3) uint8 / (H, W) bool.

    The background is a seeded texture (blobs, stripes, fine grain) on a plane twice
    the frame's size; the camera pans across it by 1.5 px/frame right and 0.5 down.
    The object, a shaded disc a quarter of the frame high, moves ``speed`` px/frame
    right (6 px/frame over the background by default), so what it hides now was mostly
    seen a few frames ago.
    """
    rng = np.random.default_rng(seed)
    big_h, big_w = 2 * height, 2 * width
    coarse = cv2.resize(
        rng.random((big_h // 24, big_w // 24, 3)).astype(np.float32),
        (big_w, big_h),
        interpolation=cv2.INTER_CUBIC,
    )
    yy, xx = np.mgrid[:big_h, :big_w].astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin((xx * 0.9 + yy * 0.4) / 7.0)[..., None]
    grain = rng.random((big_h, big_w, 3)).astype(np.float32)
    plane = 0.45 * coarse + 0.3 * stripes * np.array([0.9, 0.7, 0.5]) + 0.25 * grain
    plane = np.clip(plane * 200 + 30, 0, 255).astype(np.float32)
    r = height // 8
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    frames, backgrounds, masks = [], [], []
    for t in range(n):
        shift = np.array([[1, 0, -(10 + 1.5 * t)], [0, 1, -(10 + 0.5 * t)]], np.float32)
        bg = cv2.warpAffine(plane, shift, (width, height), flags=cv2.INTER_LINEAR)
        cx, cy = r + 6 + speed * t, height / 2 + 0.2 * height * np.sin(t / 5)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r**2
        alpha = np.clip((1.0 - d2) * r / 2, 0, 1)[..., None]  # ~1 px antialiased edge
        shade = (0.7 + 0.3 * np.cos((xx - cx) / 5.0) * np.sin((yy - cy) / 6.0))[..., None]
        obj = np.array([215, 90, 40], np.float32) * shade
        frame = bg * (1 - alpha) + obj * alpha
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        backgrounds.append(np.clip(bg + 0.5, 0, 255).astype(np.uint8))
        masks.append(alpha[..., 0] > 0)
    return frames, backgrounds, masks


def result_for(image: np.ndarray, masks: list[np.ndarray], t: int = 0, ids=None) -> FrameResult:
    """A FrameResult of ``image`` with the given (H, W) bool masks as objects 1..N."""
    ids = ids or list(range(1, len(masks) + 1))
    stack = np.stack(masks) if masks else np.zeros((0, *image.shape[:2]), bool)
    return FrameResult(
        frame=Frame(index=t, pts=t, time=t / 24, image=image),
        object_ids=ids,
        masks=stack,
        scores=np.ones(len(ids), np.float32),
        boxes=np.stack([mask_box(m) for m in masks]) if masks else np.zeros((0, 4), np.float32),
        present=np.array([m.any() for m in masks], bool),
    )


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    err = (a[where].astype(np.float64) - b[where].astype(np.float64)) ** 2
    return float(10 * np.log10(255.0**2 / max(err.mean(), 1e-10)))


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
