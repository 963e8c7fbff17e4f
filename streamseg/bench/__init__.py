"""``streamseg bench``: where the time goes, stage by stage, through the real pipeline.

``run_bench(SOURCE, ...)`` runs a Session (the real pieces: the source's decode
thread, the engine's batched ``embed``, the tracker, overlay rendering, the Zarr and
video sinks in their threads writing to a temporary folder) with a StageTimer as
its observer (streamseg/observe.py), and
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
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamseg.bench.result import STAGES, BenchResult, peak_rss
from streamseg.bench.timer import StageTimer

log = logging.getLogger(__name__)

__all__ = ["STAGES", "BenchResult", "StageTimer", "run_bench"]


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
    """Run ``source`` through a Session with a stage timer (module docstring).

    prompts: Prompt objects or ``--prompt`` strings; none: one click at the centre of
    the first frame. engine: a ready engine (tests), else built from the arguments.
    out: keep the outputs there (default: a temporary folder, deleted afterwards).
    progress: a progress bar on stderr (frames, frames/s, time left).
    """
    import dataclasses

    import numpy as np
    from tqdm import tqdm

    from streamseg.config import Config
    from streamseg.engines.select import resolve_model
    from streamseg.job import expected_frames
    from streamseg.prompts import parse_prompt
    from streamseg.session import Session
    from streamseg.sinks.outputs import FolderOutputs
    from streamseg.sources import open_source
    from streamseg.types import Prompt

    config = config or Config()
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(
            config.model,
            name=model,
            checkpoint=checkpoint,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
        ),
        source=dataclasses.replace(config.source, max_frames=max_frames),
    )
    config.validate()
    parsed = [p if isinstance(p, Prompt) else parse_prompt(p, i + 1) for i, p in enumerate(prompts)]
    # The source first: a typo in the path must not cost a weights download.
    with open_source(source, config.source) as probe:
        w, h = probe.info.width, probe.info.height
    if not parsed:
        centre = np.array([[w / 2, h / 2]], np.float32)
        parsed = [Prompt(1, 0, points=centre, labels=np.ones(1, np.int32), name="centre")]
    timer = StageTimer()
    started = time.perf_counter()
    meta: dict[str, Any] = {"name": getattr(engine, "name", "?")}
    if engine is None:
        engine, meta = resolve_model(config, random_weights=random_weights)
    for key in ("device", "dtype"):
        if hasattr(engine, key) and key not in meta:
            meta[key] = str(getattr(engine, key) or "float32").replace("torch.", "")
    cuda = str(getattr(engine, "device", "cpu")).startswith("cuda")
    if cuda:
        import torch

        timer.device = engine.device
        torch.cuda.reset_peak_memory_stats(engine.device)
    with contextlib.ExitStack() as stack:
        folder = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        outputs = FolderOutputs(folder, config.output, overwrite=True, observer=timer)
        session = Session(
            source,
            parsed,
            config,
            via="bench",
            outputs=outputs,
            observer=timer,
            engine=engine,
            engine_meta=meta,
        )
        frames = present = 0
        with session:
            setup = time.perf_counter() - started
            total = expected_frames(session.source, config)
            bar = stack.enter_context(tqdm(total=total, unit="frame", disable=not progress))
            start = time.perf_counter()
            for frame_result in session:
                frames += 1
                present += bool(frame_result.present.any())
                bar.update(1)
        timer.sync()  # the sinks' close and, on CUDA, work still queued count too
        wall = time.perf_counter() - start
    seconds = dict(timer.seconds)
    step = seconds.pop("step", 0.0)
    seconds["tracking"] = max(0.0, step - seconds.get("decode-masks", 0.0))
    if hasattr(engine, "batch_size"):  # what it ran with: SAM halves it when CUDA memory
        meta["batch_size"] = engine.batch_size  # runs out
    result = BenchResult(
        source=source,
        engine=meta,
        frames=frames,
        size=(w, h),
        wall=wall,
        setup=setup,
        stages=seconds,
        gpu=timer.gpu_seconds(),
        decoder_calls=session.engine.segment_calls,
        has_encoder=session.engine.reports_own_stages,  # SAM times its encoder itself
        present=present,
        peak_rss=peak_rss(),
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
