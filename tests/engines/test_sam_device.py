"""The SAM engine's CUDA bookkeeping, driven on the CPU with fake CUDA events: the
pinned upload pool, the bench's event timing, the no-lookahead rule for live
sources, and bf16 decoding that is the same for an object alone or in company."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import zarr

from streamseg import bench, engines, job
from streamseg.bench import BenchResult, StageTimer
from streamseg.config import Config
from streamseg.engines.base import ObjectPrompt
from streamseg.engines.sam import SamEngine
from streamseg.engines.sam_device import PinnedPool
from streamseg.engines.sam_models import build_sam
from streamseg.errors import EngineError
from streamseg.session import embedded_frames
from streamseg.types import Prompt

CUDA = torch.device("cuda")


class FakeEvent:
    """torch.cuda.Event stand-in: remembers the stream and the time it was recorded."""

    made: list[FakeEvent] = []
    syncs: list[int] = []  # torch.cuda.synchronize calls

    def __init__(self, enable_timing: bool = False) -> None:
        self.stream, self.at, self.waited = None, None, 0
        FakeEvent.made.append(self)

    def record(self, stream=None) -> None:
        self.stream, self.at = stream, time.perf_counter()

    def synchronize(self) -> None:
        self.waited += 1

    def elapsed_time(self, end: FakeEvent) -> float:
        return 1000 * (end.at - self.at)


@pytest.fixture
def fake_cuda(monkeypatch):
    FakeEvent.made, FakeEvent.syncs = [], []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: f"stream of {device}")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: FakeEvent.syncs.append(1))
    return FakeEvent


def test_pinned_pool_reuses_a_buffer_per_shape_and_keeps_four(fake_cuda, monkeypatch):
    allocated = []

    def allocate(shape):
        allocated.append(shape)
        return torch.empty(shape, dtype=torch.uint8)

    monkeypatch.setattr(PinnedPool, "_allocate", staticmethod(allocate))
    pool = PinnedPool(keep=4)
    rng = np.random.default_rng(0)
    sizes = [(4, 6), (8, 6), (4, 6), (2, 2), (3, 3), (5, 5), (8, 6), (4, 6)]
    for h, w in sizes:
        frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2)]
        out = pool.upload(frames, "cpu")
        np.testing.assert_array_equal(out.numpy(), np.stack(frames))
    # (4, 6) came back while held (reused); (5, 5) pushed out the least recently used
    # (8, 6), which then pushed out (4, 6): both are made again
    made = [(4, 6), (8, 6), (2, 2), (3, 3), (5, 5), (8, 6), (4, 6)]
    assert allocated == [(2, h, w, 3) for h, w in made]
    assert len(pool._buffers) == 4
    # every copy is guarded by an event on the copying device's stream; a buffer is
    # refilled (or dropped) only after its last copy's event has been waited for
    assert {e.stream for e in fake_cuda.made} == {"stream of cpu"}
    # the first (4, 6) buffer: waited for before each of its 2 fills and on eviction;
    # the first (8, 6): before its one fill and on eviction
    assert [e.waited for e in fake_cuda.made[:2]] == [3, 2]


def test_stage_timer_takes_gpu_time_from_events_without_waiting(fake_cuda, monkeypatch):
    # A clock that moves only when told: the sums are exact on a loaded machine too.
    clock = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    timer = StageTimer(CUDA)
    for _ in range(3):
        with timer.stage("encode"):
            clock[0] += 0.01
    with timer.stage("decode-masks"):
        clock[0] += 0.005
    assert fake_cuda.syncs == []  # the timed run itself never waits for the GPU
    gpu = timer.gpu_seconds()
    assert len(fake_cuda.syncs) == 1
    assert set(gpu) == {"encode", "decode-masks"}
    assert gpu["encode"] == pytest.approx(timer.get("encode")) == pytest.approx(0.03)
    assert gpu["decode-masks"] == pytest.approx(0.005)
    assert len(fake_cuda.made) == 8 and all(e.stream == "stream of cuda" for e in fake_cuda.made)
    assert StageTimer().gpu_seconds() == {}  # on the CPU: host times only


class Async:
    asynchronous = True

    def __init__(self):
        self.log = []

    def embed(self, images):
        self.log.append(("embed", images[0]))
        return list(images)


@pytest.mark.parametrize("lookahead", [True, False])
def test_live_sources_do_not_wait_for_the_next_frame(lookahead):
    class Frame:
        def __init__(self, i):
            self.image = i

    eng = Async()
    for frame, _ in embedded_frames(eng, ([Frame(i)] for i in range(3)), lookahead):
        eng.log.append(("step", frame.image))
    if lookahead:  # files: frame 1 is being encoded while frame 0 is decoded
        assert eng.log[:3] == [("embed", 0), ("embed", 1), ("step", 0)]
    else:  # live: frame 0 is stepped before frame 1 is even asked for
        assert eng.log == [(k, i) for i in range(3) for k in ("embed", "step")]


def test_bf16_object_decodes_the_same_alone_or_beside_a_mask_prompt():
    eng = SamEngine(build_sam("tiny", seed=0), device="cpu", dtype="bfloat16")
    frame = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    emb = eng.embed([frame])[0]
    click = ObjectPrompt(points=np.array([[50.0, 40.0]], np.float32), labels=np.ones(1, np.int32))
    first = eng.segment(emb, [click])[0]
    with_logits = ObjectPrompt(
        points=np.array([[120.0, 80.0]], np.float32),
        labels=np.ones(1, np.int32),
        logits=first.logits,
    )
    alone = eng.segment(emb, [click])[0]
    together = eng.segment(emb, [click, with_logits])[0]
    np.testing.assert_array_equal(alone.mask, together.mask)
    torch.testing.assert_close(alone.logits, together.logits, atol=1e-3, rtol=1e-3)
    assert alone.appearance.dtype == torch.float32


class TightEncoder(torch.nn.Module):
    """Wraps an image encoder; "runs out of CUDA memory" above ``fits`` frames."""

    def __init__(self, encoder, fits: int) -> None:
        super().__init__()
        self.encoder, self.fits, self.img_size, self.sizes = encoder, fits, encoder.img_size, []

    def forward(self, x):
        self.sizes.append(len(x))
        if len(x) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.encoder(x)


def tight_engine(fits: int, batch_size: int = 0) -> SamEngine:
    eng = SamEngine(build_sam("tiny", seed=0), device="cpu", batch_size=batch_size)
    eng.model.image_encoder = TightEncoder(eng.model.image_encoder, fits)
    return eng


def test_the_default_batch_halves_when_cuda_memory_runs_out(caplog):
    frames = [np.random.default_rng(i).integers(0, 256, (60, 80, 3), np.uint8) for i in range(5)]
    eng = tight_engine(fits=2)
    eng.batch_size = 8  # the CUDA default
    out = eng.embed(frames)
    assert eng.model.image_encoder.sizes == [5, 3, 2, 2, 1]  # halved (rounding up) twice
    assert eng.batch_size == 2 and "batches of 2" in caplog.text
    single = SamEngine(build_sam("tiny", seed=0), device="cpu")
    for frame, emb in zip(frames, out, strict=True):
        torch.testing.assert_close(emb.features(), single.embed([frame])[0].features())


def test_an_explicit_batch_or_a_single_frame_that_does_not_fit_is_an_error():
    frames = [np.zeros((60, 80, 3), np.uint8)] * 4
    with pytest.raises(EngineError, match=r"4 frame\(s\).*smaller --batch-size \(e.g. 2\)"):
        tight_engine(fits=2, batch_size=4).embed(frames)
    with pytest.raises(EngineError, match=r"1 frame\(s\).*--model sam-vit-b"):
        tight_engine(fits=0).embed(frames[:1])


def test_bench_table_gives_gpu_time_beside_host_time():
    result = BenchResult(
        source="clip.mp4",
        engine={"name": "sam-vit-b", "device": "cuda:0", "dtype": "bfloat16", "batch_size": 8},
        frames=10,
        size=(1280, 720),
        wall=2.0,
        setup=1.0,
        stages={"decode": 0.1, "preprocess": 0.02, "encode": 0.05, "decode-masks": 1.5},
        gpu={"preprocess": 0.03, "encode": 1.6, "decode-masks": 0.2},
    )
    assert result.encoder == 1.6 and result.ratio == pytest.approx(1.25)  # GPU encode time
    rows = {line[:14].strip(): line[14:].split() for line in result.table().splitlines()}
    assert rows["stage"][-2:] == ["GPU", "ms/frame"]
    assert rows["encode"] == ["main", "5.0", "2.5%", "160.0"]  # host ms, share, GPU ms
    assert rows["decode"] == ["decode", "thread", "10.0", "5.0%"]  # no GPU column
    assert rows["main, other"][:1] == ["main"] and float(rows["main, other"][1]) > 0


def test_bench_records_the_batch_the_engine_ran_with(clip, tmp_path):
    eng = tight_engine(fits=2)
    eng.batch_size = 8  # the CUDA default, too big for this "GPU"
    result = bench.run_bench(str(clip[0]), engine=eng, max_frames=6, out=tmp_path / "o")
    assert result.frames == 6 and result.engine["batch_size"] == 2
    assert "batch 2" in result.table()


def test_negative_batch_size_is_refused():
    with pytest.raises(EngineError, match="--batch-size -1: give 1 or more"):
        SamEngine(build_sam("tiny", seed=0), device="cpu", batch_size=-1)


def test_the_zarr_attributes_record_the_batch_sam_ran_with(clip, tmp_path, monkeypatch):
    eng = tight_engine(fits=2)
    eng.batch_size = 8
    meta = {"requested": "sam-vit-b", "name": "sam-tiny", "weights": None, "batch_size": 8}
    monkeypatch.setattr(engines, "build_engine", lambda c: (eng, meta))  # what the session calls
    config = Config()
    config.source.max_frames = 6
    config.model.batch_size = 8
    prompts = [Prompt(1, 0, points=[[40, 60]], labels=[1])]
    job.run(str(clip[0]), prompts, tmp_path / "out", config, quiet=True)
    g = zarr.open_group(str(tmp_path / "out" / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 6 and g.attrs["engine"]["batch_size"] == 2
