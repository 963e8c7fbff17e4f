"""``streamseg bench``: where the time goes, stage by stage, through the real pipeline.

``run_bench(SOURCE, ...)`` runs the real pieces -- the source's decode thread, the
engine's batched ``embed``, the tracker, overlay rendering, the Zarr and video sinks
in their threads writing to a temporary folder -- with a per-stage timer, and
returns a BenchResult whose ``table()`` gives ms/frame and the share of wall time of
each stage, end-to-end frames/s, peak CUDA memory, peak host RSS, and the ratio
"end-to-end wall time / pure image-encoder time" (1.0 would mean everything but the
encoder is hidden behind it).

Stages: decode (decode thread), preprocess, encode, decode-masks (prompt encoder +
mask decoder + postprocess), tracking (the tracker's own work, the engine's
``segment`` excluded), rendering and writing (sink threads). Threads overlap, so the
shares need not add up to 100%. Timers are perf_counter pairs. On CUDA the run is
not synchronised (the encoder's side stream overlaps the decoder as in a normal
run, so the end-to-end figure is the real one): the host columns say how long the
main thread spent queueing each engine stage and waiting on it, and a "GPU
ms/frame" column gives each engine stage's GPU time, from CUDA events recorded on
the stream that runs it. The ratio then uses the encoder's GPU time.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# (stage, the thread it runs in), in table order.
STAGES = (
    ("decode", "decode thread"),
    ("preprocess", "main"),
    ("encode", "main"),
    ("decode-masks", "main"),
    ("tracking", "main"),
    ("rendering", "video thread"),
    ("writing", "sink threads"),
)


class StageTimer:
    """Seconds per stage, summed over calls; safe to use from several threads.

    device: a CUDA torch.device, or None. With one, each ``stage`` block is also
    bracketed by CUDA events on the stream current at that point (the engine's side
    stream for preprocess and encode) without waiting for the GPU;
    ``gpu_seconds()`` waits once at the end and sums them per stage.
    """

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._events: list[tuple[str, Any, Any]] = []

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def get(self, name: str) -> float:
        with self._lock:
            return self.seconds.get(name, 0.0)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        begin = self._event()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)
            if begin is not None:
                with self._lock:
                    self._events.append((name, begin, self._event()))

    def sync(self) -> None:
        """Wait for the device's queued work (CUDA); nothing on the CPU."""
        if self.device is not None:
            import torch

            torch.cuda.synchronize(self.device)

    def gpu_seconds(self) -> dict[str, float]:
        """GPU seconds per stage from the CUDA events ({} without a device)."""
        if self.device is None:
            return {}
        self.sync()
        out: dict[str, float] = {}
        for name, begin, end in self._events:
            out[name] = out.get(name, 0.0) + begin.elapsed_time(end) / 1000
        return out

    def _event(self) -> Any:
        if self.device is None:
            return None
        import torch

        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event


@dataclass
class BenchResult:
    """What one bench run measured. Times in seconds, memory in bytes."""

    source: str
    engine: dict[str, Any]
    frames: int
    size: tuple[int, int]
    wall: float
    setup: float
    stages: dict[str, float]
    gpu: dict[str, float] = field(default_factory=dict)
    has_encoder: bool = True  # False: "encode" is a weight-free engine's preparation
    decoder_calls: int = 0
    present: int = 0
    cuda_max_memory: int | None = None
    peak_rss: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def encoder(self) -> float:
        """Summed pure image-encoder time over all frames (GPU time on CUDA)."""
        return self.gpu.get("encode", self.stages.get("encode", 0.0))

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    @property
    def ratio(self) -> float | None:
        """End-to-end wall time / pure encoder time (None for engines without an image
        encoder, such as classic, whose "encode" is only its per-frame preparation)."""
        if not self.has_encoder or self.encoder <= 0:
            return None
        return self.wall / self.encoder

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "engine": self.engine,
            "frames": self.frames,
            "size": list(self.size),
            "wall_s": self.wall,
            "setup_s": self.setup,
            "stages_s": dict(self.stages),
            "gpu_stages_s": dict(self.gpu),
            "fps": self.fps,
            "encoder_s": self.encoder,
            "wall_over_encoder": self.ratio,
            "decoder_calls": self.decoder_calls,
            "cuda_max_memory": self.cuda_max_memory,
            "peak_rss": self.peak_rss,
        }

    def table(self) -> str:
        """A plain-text table (see the module docstring)."""
        e = self.engine
        n = max(self.frames, 1)
        lines = [
            f"source {self.source}: {self.frames} frames of {self.size[0]}x{self.size[1]}",
            f"engine {e.get('name')}"
            + (
                f" on {e['device']} ({e.get('dtype')}, batch {e.get('batch_size')})"
                if "device" in e
                else ""
            )
            + f"; weights: {_weights(e)}; setup {self.setup:.1f} s (not in the wall time)",
            "",
            f"{'stage':<14}{'thread':<15}{'ms/frame':>10}{'% of wall':>11}"
            + (f"{'GPU ms/frame':>14}" if self.gpu else ""),
        ]
        # Host times: on CUDA the main thread's share of the engine stages is the time
        # to queue the work and wait for results; the GPU column is the work itself.
        main = sum(self.stages.get(s, 0.0) for s, t in STAGES if t == "main")
        rows = [(name, thread, self.stages.get(name, 0.0)) for name, thread in STAGES]
        rows.append(("main, other", "main", max(0.0, self.wall - main)))  # waits, glue
        for name, thread, s in rows:
            ms, share = 1000 * s / n, 100 * s / self.wall
            gpu = f"{1000 * self.gpu[name] / n:>14.1f}" if name in self.gpu else ""
            lines.append(f"{name:<14}{thread:<15}{ms:>10.1f}{share:>10.1f}%{gpu}")
        lines += [
            "",
            f"end to end: {self.wall:.2f} s, {self.fps:.3f} frames/s "
            f"({1000 * self.wall / n:.1f} ms/frame)",
            f"image encoder alone: {self.encoder:.2f} s; wall / encoder = "
            + (f"{self.ratio:.3f}" if self.ratio else "n/a (no image encoder)"),
            f"decoder calls: {self.decoder_calls}; object present on {self.present} frame(s)",
            "CUDA max memory allocated: "
            + (f"{self.cuda_max_memory / 2**20:.0f} MiB" if self.cuda_max_memory else "n/a (CPU)"),
            f"host peak RSS: {self.peak_rss / 2**20:.0f} MiB",
        ]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _weights(meta: dict[str, Any]) -> str:
    w = meta.get("weights")
    if not w:
        return "none"
    return str(w.get("source")) + (f" {w['path']}" if w.get("path") else "")


def _peak_rss() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB on Linux


def run_bench(
    source: str,
    *,
    model: str = "sam-vit-b",
    checkpoint: str | None = None,
    random_weights: bool = False,
    batch_size: int = 0,
    max_frames: int | None = 20,
    device: str = "auto",
    dtype: str = "auto",
    prompts: Sequence[Any] = (),
    config: Any = None,
    engine: Any = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> BenchResult:
    """Run ``source`` through the pipeline pieces with stage timers (module docstring).

    prompts: Prompt objects or ``--prompt`` strings; none: one click at the centre of
    the first frame. engine: a ready engine (tests), else built from the arguments.
    out: keep the outputs there (default: a temporary folder, deleted afterwards).
    progress: a progress bar on stderr (frames, frames/s, time left).
    """
    from tqdm import tqdm

    from streamseg.config import Config
    from streamseg.engines.select import resolve_model
    from streamseg.io.source import open_source
    from streamseg.job import expected_frames
    from streamseg.prompts import parse_prompt, validate
    from streamseg.track.tracker import Tracker
    from streamseg.types import Prompt

    config = config or Config()
    for key, value in dict(
        name=model, checkpoint=checkpoint, batch_size=batch_size, device=device, dtype=dtype
    ).items():
        setattr(config.model, key, value)
    config.source.max_frames = max_frames
    config.validate()
    # The source and prompts first: a typo in the path must not cost a weights download.
    src = open_source(source, config.source)
    try:
        parsed = [
            p if isinstance(p, Prompt) else parse_prompt(p, i + 1) for i, p in enumerate(prompts)
        ]
        w, h = src.info.width, src.info.height
        if not parsed:
            centre = np.array([[w / 2, h / 2]], np.float32)
            parsed = [Prompt(1, 0, points=centre, labels=np.ones(1, np.int32), name="centre")]
        validate(parsed, w, h)
        started = time.perf_counter()
        meta: dict[str, Any] = {"name": getattr(engine, "name", "?")}
        if engine is None:
            engine, meta = resolve_model(config, random_weights=random_weights)
        setup = time.perf_counter() - started
    except BaseException:
        src.close()
        raise
    for key in ("device", "dtype"):
        if hasattr(engine, key) and key not in meta:
            meta[key] = str(getattr(engine, key) or "float32").replace("torch.", "")
    cuda = str(getattr(engine, "device", "cpu")).startswith("cuda")
    timer = StageTimer(engine.device if cuda else None)
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats(engine.device)
    tracker = Tracker(_instrument(engine, timer), config.tracker)
    tracker.add_prompts(parsed)
    with contextlib.ExitStack() as stack:
        folder = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        bar = stack.enter_context(
            tqdm(total=expected_frames(src, config), unit="frame", disable=not progress)
        )
        frames, present, wall = _run(src, engine, tracker, timer, folder, config, meta, bar)
    if hasattr(engine, "batch_size"):  # what it ran with: SAM halves it when CUDA memory
        meta["batch_size"] = engine.batch_size  # runs out
    result = BenchResult(
        source=source,
        engine=meta,
        frames=frames,
        size=(w, h),
        wall=wall,
        setup=setup,
        stages=dict(timer.seconds),
        gpu=timer.gpu_seconds(),
        decoder_calls=getattr(engine, "_bench_calls", 0),
        has_encoder=hasattr(engine, "timer"),  # SAM times its encoder itself
        present=present,
        peak_rss=_peak_rss(),
    )
    if cuda:
        import torch

        result.cuda_max_memory = int(torch.cuda.max_memory_allocated(engine.device))
        result.notes.append(
            "CUDA: the run was not synchronised (the encoder overlapped the decoder as in a "
            "normal run); GPU ms/frame is each engine stage's GPU time, from CUDA events"
        )
    if (meta.get("weights") or {}).get("source") == "random":
        result.notes.append("random weights: speed only, the masks mean nothing")
    return result


def _instrument(engine: Any, timer: StageTimer) -> Any:
    """Attach the timer (SAM times its own stages; other engines are timed whole) and
    count the decoder calls in ``engine._bench_calls``."""
    engine._bench_calls = 0
    own = hasattr(engine, "timer")
    if own:
        engine.timer = timer
    embed, segment = engine.embed, engine.segment

    def timed_embed(images: Any) -> Any:
        with contextlib.nullcontext() if own else timer.stage("encode"):
            return embed(images)

    def timed_segment(embedding: Any, prompts: Any) -> Any:
        engine._bench_calls += 1
        with contextlib.nullcontext() if own else timer.stage("decode-masks"):
            return segment(embedding, prompts)

    engine.embed, engine.segment = timed_embed, timed_segment
    return engine


def _run(
    src: Any,
    engine: Any,
    tracker: Any,
    timer: StageTimer,
    folder: Path,
    config: Any,
    meta: dict,
    bar: Any,
) -> tuple[int, int, float]:
    """The timed loop; returns (frames, frames with an object present, wall seconds)."""
    from streamseg.io.threads import Prefetch, ThreadedSink
    from streamseg.pipeline import batches, embedded_frames

    frames = present = 0
    sinks: list[ThreadedSink] = []
    complete = False
    start = time.perf_counter()
    feed = Prefetch(_timed_frames(src.frames(), timer), config.source.queue_size, name="decode")
    try:
        groups = batches(feed, max(1, getattr(engine, "batch_size", 1) or 1))
        for frame, embedding in embedded_frames(engine, groups):
            before = timer.get("decode-masks")
            t = time.perf_counter()
            result = tracker.step(frame, embedding)
            timer.add("tracking", time.perf_counter() - t - (timer.get("decode-masks") - before))
            if not sinks:
                sinks = _open_sinks(folder, src, meta, timer, config)
            for sink in sinks:
                sink.write(result)
            frames += 1
            present += bool(result.present.any())
            bar.update(1)
        complete = True
    finally:
        try:
            for sink in sinks:
                sink.close(complete)
        finally:
            if feed.close():
                src.close()
    timer.sync()  # CUDA: work still queued on the GPU belongs to the wall time
    return frames, present, time.perf_counter() - start


def _timed_frames(frames: Iterator[Any], timer: StageTimer) -> Iterator[Any]:
    """The source's frames, each one's decoding time charged to "decode"."""
    while True:
        t = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            return
        timer.add("decode", time.perf_counter() - t)
        yield frame


class _TimedSink:
    """A sink whose write/close time goes to "writing", less what ``render`` took."""

    def __init__(self, sink: Any, timer: StageTimer, rendered: threading.local) -> None:
        self.sink, self.timer, self.rendered = sink, timer, rendered

    def write(self, item: Any) -> None:
        self.rendered.seconds = 0.0
        t = time.perf_counter()
        self.sink.write(item)
        self.timer.add("writing", time.perf_counter() - t - self.rendered.seconds)

    def close(self, complete: bool) -> None:
        t = time.perf_counter()
        self.sink.close(complete)
        self.timer.add("writing", time.perf_counter() - t)


def _open_sinks(folder: Path, src: Any, meta: dict, timer: StageTimer, config: Any) -> list[Any]:
    """The Zarr store and the overlay video, as the pipeline opens them, timed."""
    from streamseg.io.threads import ThreadedSink
    from streamseg.io.video_sink import VideoSink
    from streamseg.io.zarr_sink import ZarrSink
    from streamseg.render.overlay import draw_overlay

    o = config.output
    rendered = threading.local()

    def draw(result: Any) -> Any:
        t = time.perf_counter()
        picture = draw_overlay(result, o.alpha)
        rendered.seconds = time.perf_counter() - t
        timer.add("rendering", rendered.seconds)
        return picture

    attrs = {"engine": meta, "source": src.info.as_dict(), "bench": True}
    zarr_sink = ZarrSink(folder / "masks.zarr", attrs, {}, o.chunk_frames)
    sinks = [ThreadedSink(_TimedSink(zarr_sink, timer, rendered), o.queue_size, name="zarr")]
    if o.overlay:
        video = VideoSink(folder / "overlay.mp4", src.info, draw, crf=o.crf, preset=o.preset)
        sinks.append(ThreadedSink(_TimedSink(video, timer, rendered), o.queue_size, name="video"))
    return sinks


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamseg.bench SOURCE [...]``: the same as ``streamseg bench``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m streamseg.bench", description=__doc__)
    p.add_argument("source")
    p.add_argument("--model", default="sam-vit-b")
    p.add_argument("--checkpoint")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--batch-size", type=int, default=0)
    p.add_argument("--max-frames", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--prompt", action="append", default=[])
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="streamseg: %(message)s", stream=sys.stderr)
    result = run_bench(
        a.source,
        model=a.model,
        checkpoint=a.checkpoint,
        random_weights=a.random_weights,
        batch_size=a.batch_size,
        max_frames=a.max_frames,
        device=a.device,
        dtype=a.dtype,
        prompts=a.prompt,
    )
    sys.stdout.write(result.table() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
