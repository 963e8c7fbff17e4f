"""The SAM engine with tiny seeded random-weight models: exact coordinates, batching,
one decoder call for N objects (equal to N SamPredictor calls), dtypes, and the
tracker driving it end to end. CPU only, no weights, no network."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import zarr
from segment_anything import SamPredictor
from segment_anything.utils.transforms import ResizeLongestSide

import streamseg
from streamseg import engines, job
from streamseg.config import Config
from streamseg.engines import sam_prompts as sp
from streamseg.engines.base import ObjectPrompt
from streamseg.engines.sam import SamConfig, SamEngine, resolve_dtype
from streamseg.engines.sam_models import build_sam
from streamseg.errors import EngineError, UsageError
from streamseg.session import embedded_frames
from streamseg.types import Prompt


@pytest.fixture(scope="module")
def model():
    return build_sam("tiny", seed=0)


@pytest.fixture(scope="module")
def engine(model):
    return SamEngine(model, device="cpu")


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def prompt(points=(), labels=(), box=None, **kw) -> ObjectPrompt:
    return ObjectPrompt(
        points=np.asarray(points, np.float32).reshape(-1, 2),
        labels=np.asarray(labels, np.int32).reshape(-1),
        box=None if box is None else np.asarray(box, np.float32),
        **kw,
    )


def predictor_on(model, embedding) -> SamPredictor:
    """SamPredictor holding exactly our embedding (so only prompts/decoding differ)."""
    pred = SamPredictor(model)
    pred.features = embedding.features()
    pred.original_size = embedding.original_size
    pred.input_size = embedding.input_size
    pred.is_image_set = True
    return pred


@pytest.mark.parametrize(
    "h, w", [(120, 160), (720, 1280), (1080, 1920), (333, 777), (1024, 1024), (2000, 301), (7, 5)]
)
def test_coordinates_land_where_samples_predictor_puts_them(h, w):
    t = ResizeLongestSide(1024)
    assert sp.input_size(h, w) == t.get_preprocess_shape(h, w, 1024)
    rng = np.random.default_rng(h * w)
    pts = (rng.random((50, 2)) * [w, h]).astype(np.float32)
    pts[:4] = [[0, 0], [w - 1, h - 1], [w, h], [w / 2, h / 2]]
    np.testing.assert_allclose(sp.to_input(pts, (h, w)), t.apply_coords(pts, (h, w)), rtol=1e-6)
    box = np.array([[3.5, 2.0, w - 4.0, h - 1.5]], np.float32)
    np.testing.assert_allclose(
        sp.to_input(box.reshape(2, 2), (h, w)).reshape(1, 4),
        t.apply_boxes(box, (h, w)),
        rtol=1e-6,
    )


def test_preprocess_matches_sam_and_pads_with_zeros(model, engine):
    img = image(200, 300)
    ours = engine._preprocess([img])[0]
    resized = ResizeLongestSide(1024).apply_image(img)  # PIL, as SamPredictor does
    theirs = model.preprocess(torch.as_tensor(resized).permute(2, 0, 1).float())
    nh, nw = sp.input_size(200, 300)
    assert (nh, nw) == resized.shape[:2]
    levels = (ours - theirs).abs() * 57.12  # in grey levels (std is about 57)
    # PyTorch's uint8 antialiased bilinear and PIL's agree to a level or two, rarely
    assert levels.max() <= 2.01 and levels.mean() < 0.05
    assert nw == 1024 and nh < 1024 and not ours[:, nh:].any() and ours[:, :nh].any()


def test_segment_equals_sam_predictor_object_by_object(model, engine):
    emb = engine.embed([image(180, 240, 1)])[0]
    pred = predictor_on(model, emb)
    _, _, earlier = pred.predict(np.array([[60.0, 90.0]]), np.array([1]), multimask_output=False)
    prompts = [
        prompt([[60, 90]], [1]),  # one click: ambiguous, best of three by predicted IoU
        prompt([[60, 90], [200, 30]], [1, 0], box=[20, 30, 150, 170]),
        prompt(box=[40, 10, 230, 120]),
        prompt([[120, 60], [130, 70], [10, 10]], [1, 1, 0]),
        prompt([[100, 100]], [1], logits=torch.from_numpy(earlier)),  # + mask prompt
    ]
    segs = engine.segment(emb, prompts)
    assert len(segs) == len(prompts)

    masks, scores, _ = pred.predict(prompts[0].points, prompts[0].labels, multimask_output=True)
    best = int(np.argmax(scores))
    np.testing.assert_array_equal(segs[0].mask, masks[best])
    assert segs[0].score == pytest.approx(float(np.clip(scores[best], 0, 1)), abs=1e-5)
    singles = [
        dict(point_coords=prompts[1].points, point_labels=prompts[1].labels, box=prompts[1].box),
        dict(box=prompts[2].box),
        dict(point_coords=prompts[3].points, point_labels=prompts[3].labels),
        dict(point_coords=prompts[4].points, point_labels=prompts[4].labels, mask_input=earlier),
    ]
    for seg, kwargs in zip(segs[1:], singles):
        masks, scores, low = pred.predict(multimask_output=False, **kwargs)
        assert seg.mask.dtype == bool and seg.mask.shape == (180, 240)
        np.testing.assert_array_equal(seg.mask, masks[0])
        np.testing.assert_allclose(seg.logits.numpy(), low, atol=1e-4)
        assert seg.score == pytest.approx(float(np.clip(scores[0], 0, 1)), abs=1e-5)


def test_n_objects_take_one_decoder_call_equal_to_n_single_calls(engine, monkeypatch):
    emb = engine.embed([image(240, 180, 2)])[0]
    prompts = [
        prompt([[10, 20]], [1]),
        prompt([[90, 100], [30, 40], [150, 200]], [1, 0, 1], box=[5, 5, 170, 230]),
        prompt(box=[60, 60, 120, 200]),
        prompt([[100, 150], [20, 200]], [1, 1]),
    ]
    calls = []
    decode = sp.decode
    monkeypatch.setattr(sp, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    together = engine.segment(emb, prompts)
    assert len(calls) == 1  # token counts 2, 5, 2, 3: one padded, masked call
    alone = [engine.segment(emb, [p])[0] for p in prompts]
    for a, b in zip(together, alone):
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_allclose(a.logits.numpy(), b.logits.numpy(), atol=1e-4)
        assert a.score == pytest.approx(b.score, abs=1e-5)
        np.testing.assert_allclose(a.appearance.numpy(), b.appearance.numpy(), atol=1e-5)


def test_batched_embed_equals_one_frame_at_a_time(engine):
    frames = [image(120, 160, 3), image(120, 160, 4), image(90, 200, 5)]  # two sizes
    together = engine.embed(frames)
    click = [prompt([[50, 40]], [1], box=[10, 10, 100, 80])]
    for frame, emb in zip(frames, together):
        single = engine.embed([frame])[0]
        assert emb.original_size == frame.shape[:2]
        torch.testing.assert_close(emb.features(), single.features(), atol=1e-4, rtol=1e-4)
        a, b = engine.segment(emb, click)[0], engine.segment(single, click)[0]
        torch.testing.assert_close(a.logits, b.logits, atol=1e-3, rtol=1e-3)
        assert (a.mask != b.mask).mean() < 1e-3


def test_given_mask_is_kept_and_gives_logits_and_prototype(engine):
    emb = engine.embed([image(120, 160, 6)])[0]
    mask = np.zeros((120, 160), np.float32)
    mask[30:90, 40:120] = 1
    seg = engine.segment(emb, [prompt(mask=mask, mask_given=True)])[0]
    np.testing.assert_array_equal(seg.mask, mask > 0.5)
    assert seg.score == 1.0 and tuple(seg.logits.shape) == (1, 256, 256)
    nh, nw = sp.input_size(120, 160)
    low = seg.logits[0] > 0  # the mask sits in the same place of SAM's padded frame
    assert low[: 256 * nh // 1024, : 256 * nw // 1024].float().mean() == pytest.approx(
        mask.mean(), abs=0.03
    )
    assert tuple(seg.appearance.shape) == (emb.features().shape[1],)
    # on the next frame the logits are the mask prompt; an empty answer keeps the prototype
    nxt = engine.segment(emb, [prompt(box=[40, 30, 120, 90], logits=seg.logits, mask=mask)])
    assert nxt[0].mask.shape == (120, 160)


def test_one_click_picks_the_candidate_that_agrees_with_the_prior(model, engine):
    emb = engine.embed([image(120, 160, 7)])[0]
    pred = predictor_on(model, emb)
    click = np.array([[80.0, 60.0]])
    masks, scores, _ = pred.predict(click, np.array([1]), multimask_output=True)
    areas = masks.reshape(3, -1).mean(1)
    assert len(set(np.round(areas, 4))) == 3, "the tiny model should give three different masks"
    for j in range(3):
        seg = engine.segment(emb, [prompt(click, [1], mask=masks[j].astype(np.float32))])[0]
        np.testing.assert_array_equal(seg.mask, masks[j])
    plain = SamEngine(model, SamConfig(multimask=False), device="cpu")
    single, _, _ = pred.predict(click, np.array([1]), multimask_output=False)
    np.testing.assert_array_equal(plain.segment(emb, [prompt(click, [1])])[0].mask, single[0])


def test_dtypes(model, engine, monkeypatch):
    assert engine.dtype is None  # float32 on the CPU
    bf16 = SamEngine(build_sam("tiny", seed=0), device="cpu", dtype="bfloat16")
    assert bf16.dtype is torch.bfloat16
    emb = bf16.embed([image(64, 96, 8)])[0]
    exact = engine.embed([image(64, 96, 8)])[0].features()
    # autocast ran (the neck's LayerNorm2d hands back float32 holding bf16-rounded values)
    assert not torch.equal(emb.features().float(), exact)
    torch.testing.assert_close(emb.features().float(), exact, atol=0.1, rtol=0.05)
    seg = bf16.segment(emb, [prompt([[40, 30]], [1])])[0]
    assert seg.mask.shape == (64, 96) and seg.mask.dtype == bool
    cuda = torch.device("cuda")
    # bf16 hardware from compute capability 8.0 (A100, H100); older GPUs would emulate it
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0))
    assert resolve_dtype("auto", cuda) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))  # T4
    assert resolve_dtype("auto", cuda) is torch.float16
    assert resolve_dtype("float32", cuda) is None
    with pytest.raises(EngineError, match="unknown dtype"):
        resolve_dtype("int8", cuda)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_side_stream_bf16(model):  # pragma: no cover - no GPU on CI
    eng = SamEngine(build_sam("tiny", seed=0), device="cuda")
    assert eng.asynchronous and eng.dtype in (torch.bfloat16, torch.float16)
    embs = eng.embed([image(120, 160, 9), image(120, 160, 10)])
    seg = eng.segment(embs[1], [prompt([[50, 50]], [1])])[0]
    assert seg.mask.shape == (120, 160) and seg.logits.device.type == "cuda"


def test_errors(engine):
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="CUDA is not available"):
            SamEngine(build_sam("tiny"), device="cuda")
    with pytest.raises(EngineError, match="uint8"):
        engine.embed([np.zeros((10, 10, 3), np.float32)])
    emb = engine.embed([image(32, 32)])[0]
    with pytest.raises(EngineError, match="needs points, a box or a mask"):
        engine.segment(emb, [prompt()])
    with pytest.raises(EngineError, match="labels must be 0 or 1"):
        engine.segment(emb, [prompt([[1, 1]], [2])])
    with pytest.raises(UsageError, match="mask_prompt 'bogus' is unknown"):  # a setting: exit 2
        SamConfig(mask_prompt="bogus")


class FakeAsync:
    asynchronous = True

    def __init__(self):
        self.log, self.calls = [], 0

    def embed(self, images):
        self.calls += 1
        self.log.append(("embed", self.calls))
        return [self.calls] * len(images)


def test_embedded_frames_submits_the_next_batch_first():
    class F:
        def __init__(self, i):
            self.image, self.i = i, i

    eng = FakeAsync()
    out = []
    for frame, emb in embedded_frames(eng, [[F(0), F(1)], [F(2), F(3)], [F(4)]]):
        eng.log.append(("yield", frame.i))
        out.append((frame.i, emb))
    assert out == [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3)]
    assert eng.log.index(("embed", 2)) < eng.log.index(("yield", 0))


def test_tracker_drives_sam_end_to_end(tmp_path, clip, monkeypatch):
    path, masks = clip
    config = Config()
    config.source.max_frames = 8
    config.output.chunk_frames = 4
    sam = SamEngine(build_sam("tiny", seed=0), device="cpu", batch_size=3)
    meta = {"requested": "sam-vit-b", "name": "sam-tiny", "weights": None}
    monkeypatch.setattr(engines, "build_engine", lambda c: (sam, meta))  # what the session calls
    prompts = [
        Prompt(1, 0, points=[[40, 60]], labels=[1]),
        Prompt(2, 2, box=[90, 30, 150, 100]),
        Prompt(3, 0, mask=masks[0]),
    ]
    job.run(str(path), prompts, tmp_path / "out", config, quiet=True)
    g = zarr.open_group(str(tmp_path / "out" / "masks.zarr"), mode="r")
    assert g["masks"].shape == (8, 3, 120, 160)
    assert g.attrs["frames_written"] == 8 and g.attrs["complete"] is True
    assert g.attrs["engine"]["name"] == "sam-tiny"
    np.testing.assert_array_equal(g["masks"][0, 2], masks[0])  # a given mask is kept
    assert not g["present"][:2, 1].any()  # object 2 starts at frame 2
    assert (tmp_path / "out" / "overlay.mp4").stat().st_size > 0
    for name in ("frame_index", "pts", "time", "latency"):  # one entry per frame
        assert g[name].shape == (8,), name
    np.testing.assert_array_equal(g["frame_index"][:], np.arange(8))
    times = g["time"][:]
    assert g.attrs["source"]["fps"] == 24 and np.all(np.diff(times) > 0)
    np.testing.assert_allclose(np.diff(times), 1 / 24, atol=1e-6)  # the clip's 24 fps
    time_base = float(Fraction(g.attrs["source"]["time_base"]))
    np.testing.assert_allclose(g["pts"][:] * time_base, times)  # seconds agree with pts
    latency = g["latency"][:]
    assert np.all(np.isfinite(latency)) and np.all(latency > 0)  # measured, not left at 0

    results = list(streamseg.segment(str(path), prompts[:1], config=config))
    assert len(results) == 8 and results[0].masks.shape == (1, 120, 160)


def test_locate_finds_the_cell_of_a_prototype(engine):
    emb = engine.embed([image(120, 160, 7)])[0]
    features = emb.features()[0].float()
    nh, nw = sp.input_size(120, 160)
    row, col = 20, 30  # a cell inside the frame (not the padding)
    assert row * 16 < nh and col * 16 < nw
    found = engine.locate(emb, features[:, row, col].clone())
    assert found is not None
    x, y, score = found
    assert score == pytest.approx(1.0, abs=1e-4)
    assert abs(x - (col + 0.5) * 16 * 160 / nw) < 1e-3
    assert abs(y - (row + 0.5) * 16 * 120 / nh) < 1e-3
    assert engine.locate(emb, None) is None
