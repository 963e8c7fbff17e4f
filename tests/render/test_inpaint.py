"""The keyframe renderer: crop/paste geometry, the keyframe/carry schedule, and the
diffusers backend with a tiny random-weight pipeline built here (no hub, no network).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from streamseg.errors import EngineError
from streamseg.render.inpaint import (
    InpaintConfig,
    Inpainter,
    build_inpainter,
    crop_box,
    feather_alpha,
    model_size,
    paste,
)
from streamseg.render.remove import FlowRemover
from streamseg.testing.clips import removal_clip, result_for
from streamseg.testing.models import tiny_pipeline

MAGENTA = np.array([255, 0, 255], np.uint8)


class FakeModel:
    """A crop model that paints the mask magenta and records each call."""

    multiple = 8

    def __init__(self, resolution: int = 64) -> None:
        self.resolution = resolution
        self.calls: list[tuple[tuple[int, ...], int]] = []
        self.strengths: list[float | None] = []

    def inpaint(self, image: np.ndarray, mask: np.ndarray, seed: int, strength=None) -> np.ndarray:
        self.calls.append((image.shape, seed))
        self.strengths.append(strength)
        out = image.copy()
        out[:] = MAGENTA
        return out


# ---------------------------------------------------------------- geometry


def test_crop_box_inside_and_at_borders():
    size = (200, 100)
    # Interior: grows by the margin, keeps the centre.
    x0, y0, x1, y1 = crop_box(np.array([80, 40, 120, 60], np.float32), size, 0.5, min_side=0)
    assert (x0 + x1) / 2 == 100 and (y0 + y1) / 2 == 50 and x1 - x0 == 80
    # Top-left corner: shifted inside, full size kept.
    box = crop_box(np.array([0, 0, 20, 20], np.float32), size, 0.5, min_side=64)
    assert box == (0, 0, 64, 64)
    # Bottom-right corner.
    box = crop_box(np.array([190, 90, 200, 100], np.float32), size, 0.5, min_side=64)
    assert box == (136, 36, 200, 100)
    # Larger than the frame: clipped to it.
    assert crop_box(np.array([0, 0, 200, 100], np.float32), size, 0.5) == (0, 0, 200, 100)


def test_model_size_multiples():
    assert model_size(300, 150, 512) == (512, 256)
    w, h = model_size(97, 203, 512)
    assert h == 512 and w % 8 == 0 and abs(w - 97 * 512 / 203) <= 4
    assert model_size(10, 1000, 64) == (8, 64)


def test_feather_and_paste_leave_outside_exact():
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    mask = np.zeros((50, 60), bool)
    mask[20:30, 25:35] = True
    region, alpha = feather_alpha(mask, 6, 4)
    assert alpha[mask].min() == 1.0 and alpha[~region].max() == 0.0
    band = region & ~mask
    assert 0 < alpha[band].min() < alpha[band].max() <= 1.0
    out = canvas.copy()
    paste(out, np.zeros_like(canvas), alpha, (0, 0))
    assert np.array_equal(out[~region], canvas[~region])
    assert (out[mask] == 0).all()


@pytest.mark.parametrize("corner", ["top-left", "bottom-right", "left-edge"])
def test_keyframe_paste_lands_on_the_mask_at_borders(corner):
    frames, _, _ = removal_clip(n=1, width=160, height=120)
    mask = np.zeros((120, 160), bool)
    if corner == "top-left":
        mask[:15, :25] = True
    elif corner == "bottom-right":
        mask[100:, 130:] = True
    else:
        mask[40:70, :6] = True
    model = FakeModel(resolution=64)
    out = Inpainter(model, InpaintConfig(mode="remove", dilate=4, feather=3))(
        result_for(frames[0], [mask])
    )
    region, _ = feather_alpha(mask, 4, 3)
    assert (out[mask] == MAGENTA).all()
    assert np.array_equal(out[~region], frames[0][~region])
    ((shape, seed),) = model.calls
    assert shape[0] % 8 == 0 and shape[1] % 8 == 0 and max(shape[:2]) == 64 and seed == 1


# ---------------------------------------------------------------- schedule


def render(inpainter: Inpainter, frames, masks) -> list[np.ndarray]:
    return [inpainter(result_for(f, [m], t)) for t, (f, m) in enumerate(zip(frames, masks))]


def keyframes(model: FakeModel, inpainter: Inpainter, frames, masks) -> list[int]:
    """Indices of the frames on which the model ran."""
    out = []
    for t, (f, m) in enumerate(zip(frames, masks)):
        before = len(model.calls)
        inpainter(result_for(f, [m], t))
        if len(model.calls) > before:
            out.append(t)
    return out


def test_model_runs_on_keyframes_only_every_k():
    frames, _, masks = removal_clip(n=14)
    model = FakeModel()
    inp = Inpainter(model, InpaintConfig(mode="remove", every=5, warp_error=1e6))
    assert keyframes(model, inp, frames, masks) == [0, 5, 10]
    assert inp.stats["keyframes"] == 3 and inp.stats["carried"] == 11
    assert inp.stats["every"] == 2 and inp.stats["new"] == 1
    # The first keyframe starts from scratch; refreshes start from the carried result.
    assert model.strengths == [None, 0.6, 0.6]


def test_carried_frames_fit_and_rerun_on_high_warp_error():
    frames, _, masks = removal_clip(n=12)
    model = FakeModel()
    inp = Inpainter(model, InpaintConfig(mode="remove", every=100))
    # A panning camera is followed by the flow: one keyframe is enough.
    assert keyframes(model, inp, frames[:6], masks[:6]) == [0]
    # A cut to another scene: the carried keyframe no longer fits.
    other, _, other_masks = removal_clip(n=12, seed=5)
    cut = frames[:6] + other[6:]
    model2 = FakeModel()
    inp2 = Inpainter(model2, InpaintConfig(mode="remove", every=100))
    got = keyframes(model2, inp2, cut, masks[:6] + other_masks[6:])
    assert got[:2] == [0, 6] and inp2.stats["warp"] >= 1


def test_carry_outside_exact_and_object_reappearing():
    frames, _, masks = removal_clip(n=8)
    masks = [m.copy() for m in masks]
    masks[4][:] = False  # the object leaves for a frame
    model = FakeModel()
    config = InpaintConfig(mode="remove", every=100, warp_error=1e6)
    inp = Inpainter(model, config)
    for t, (f, m) in enumerate(zip(frames, masks)):
        out = inp(result_for(f, [m], t))
        region, _ = feather_alpha(m, config.dilate, config.feather)
        assert np.array_equal(out[~region], f[~region])
    assert inp.stats["keyframes"] == 2 and inp.stats["new"] == 2  # frames 0 and 5


def test_factory_auto_falls_back_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = InpaintConfig(model=str(tmp_path / "no-such-model"))
    renderer, meta = build_inpainter(config, "cpu")
    assert isinstance(renderer, FlowRemover) and meta["backend"] == "opencv"
    assert "fallback" in meta


def test_missing_extra_is_an_engine_error(monkeypatch):
    from streamseg.render.diffusion import load_diffusion

    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers -> ImportError
    with pytest.raises(EngineError, match=r"streamseg\[diffusion\].*opencv"):
        load_diffusion(InpaintConfig(mode="remove"), "cpu")


# ---------------------------------------------------------------- diffusers backend


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    import torch

    # One thread: on a shared 2-core machine torch's thread pool spends 20x more time
    # waiting for a busy core than these tiny convolutions take.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny-inpaint")
    pipe = tiny_pipeline(folder / "parts")
    pipe.save_pretrained(folder / "pipe")
    yield folder / "pipe"
    torch.set_num_threads(threads)


def diffusion(tiny: Path, **settings):
    config = InpaintConfig(backend="diffusion", model=str(tiny), steps=2, **settings)
    renderer, meta = build_inpainter(config, "cpu")
    assert isinstance(renderer, Inpainter) and meta["backend"] == "diffusion"
    return renderer, meta


def test_diffusion_from_folder_renders_inside_the_mask_only(tiny):
    frames, _, masks = removal_clip(n=4, width=128, height=96)
    renderer, meta = diffusion(tiny, every=2, warp_error=1e6)
    assert meta["resolution"] == 64 and meta["dtype"] == "float32" and meta["device"] == "cpu"
    for t, (f, m) in enumerate(zip(frames, masks)):
        out = renderer(result_for(f, [m], t))
        region, _ = feather_alpha(m, 8, 6)
        assert out.shape == f.shape and out.dtype == np.uint8
        assert np.array_equal(out[~region], f[~region])
        assert not np.array_equal(out[m], f[m])
    assert renderer.stats["keyframes"] == 2  # frames 0 and 2
    renderer.close()


def test_diffusion_seed_determinism(tiny):
    frames, _, masks = removal_clip(n=1, width=128, height=96)
    result = result_for(frames[0], [masks[0]])
    a = diffusion(tiny, seed=3)[0](result)
    b = diffusion(tiny, seed=3)[0](result)
    c = diffusion(tiny, seed=4)[0](result)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_replace_mode_uses_the_prompt(tiny):
    frames, _, masks = removal_clip(n=2, width=128, height=96)
    renderer, meta = diffusion(tiny, mode="replace", prompt="a red vase")
    assert meta["prompt"] == "a red vase"
    outs = render(renderer, frames, masks)
    assert renderer.stats["keyframes"] >= 1 and len(outs) == 2


def test_no_weights_no_network_is_one_line_engine_error(monkeypatch, tiny):
    import streamseg.render.diffusion as backend

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(backend, "hub_reachable", lambda timeout=3.0: False)
    model = "streamseg-tests/not-a-cached-model"
    with pytest.raises(EngineError) as info:
        build_inpainter(InpaintConfig(mode="remove", backend="diffusion", model=model), "cpu")
    message = str(info.value)
    assert model in message and "--inpaint-backend opencv" in message and "\n" not in message
    with pytest.raises(EngineError, match="replace|not in the Hugging Face cache"):
        build_inpainter(InpaintConfig(mode="replace", prompt="a cat", model=model), "cpu")
