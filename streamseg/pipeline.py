"""The frame flow: source thread -> engine (batched) -> tracker -> results.

``segment`` is the Python API (results as they are produced, no files);
``frame_results`` is the flow itself, shared with the CLI's job (streamseg/job.py),
which adds the sinks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from streamseg.config import Config
from streamseg.engines import build_engine
from streamseg.errors import Interrupted
from streamseg.io.source import Source, open_source
from streamseg.io.threads import Prefetch
from streamseg.live.controls import Controls
from streamseg.prompts import parse_prompt, validate
from streamseg.stats import RunStats
from streamseg.track.tracker import Tracker
from streamseg.types import Frame, FrameResult, Prompt

log = logging.getLogger(__name__)


def segment(
    source: str,
    prompts: Sequence[Prompt | str] = (),
    *,
    model: str | None = None,
    config: Config | None = None,
) -> Iterator[FrameResult]:
    """Segment ``source`` and yield one FrameResult per frame, as soon as it is ready.

    prompts: Prompt objects, or ``--prompt`` strings ("100,80 -300,40"), one object each.
    model: overrides ``config.model.name``. Nothing is written to disk.
    """
    config = config or Config()
    if model is not None:
        config.model.name = model
    config.validate()
    parsed = [p if isinstance(p, Prompt) else parse_prompt(p, i + 1) for i, p in enumerate(prompts)]
    src = open_source(source, config.source)
    try:
        validate(parsed, src.info.width, src.info.height)
        engine, _ = build_engine(config)
    except BaseException:
        src.close()
        raise
    tracker = Tracker(engine, config.tracker)
    tracker.add_prompts(parsed)
    yield from frame_results(src, engine, tracker, config)


class StopFlag(threading.Event):
    """Set (by a signal handler) to end a run between frames.

    ``armed`` turns true once frames flow; before that (opening a stream, loading a
    model) there is nothing to finalize, and a signal should interrupt at once.
    """

    armed = False


def frame_results(
    src: Source,
    engine: Any,
    tracker: Tracker,
    config: Config,
    stats: RunStats | None = None,
    controls: Controls | None = None,
    stop: StopFlag | None = None,
    before_step: Sequence[Callable[[Frame, Tracker], None]] = (),
) -> Iterator[FrameResult]:
    """Decode ahead in a thread; embed in batches; track frame by frame. Closes ``src``.

    Live sources drop stale frames instead of queueing them (counted in ``stats``)
    and run one frame at a time, so latency stays bounded. ``controls`` (prompts
    from the preview) are applied between frames, and each ``before_step`` hook
    (e.g. gaze prompts) sees every frame just before the tracker. When ``stop`` is
    set (a signal handler), Interrupted is raised between frames, never inside a stage.
    """
    stats = stats or RunStats()
    live = src.info.live
    frames = Prefetch(
        src.frames(),
        config.source.live_queue if live else config.source.queue_size,
        name="decode",
        drop_stale=live,
        on_drop=stats.add_dropped,
        stop=stop,
    )
    # Files: the engine's batch (SAM on CUDA: 8 frames per encoder call), the next
    # batch encoding while this one is decoded. Live: one frame at a time and no
    # reading ahead, since waiting for more frames is latency.
    batch_size = 1 if live else max(1, config.model.batch_size or getattr(engine, "batch_size", 1))
    if stop is not None:
        stop.armed = True
    try:
        for frame, embedding in embedded_frames(
            engine, batches(frames, batch_size), lookahead=not live
        ):
            if controls is not None:
                controls.apply(tracker, frame.index)
            for hook in before_step:
                hook(frame, tracker)
            result = tracker.step(frame, embedding)
            result.latency = time.monotonic() - frame.arrival
            stats.frame_done(frame.index, result.latency)
            yield result
            if stop is not None and stop.is_set():
                raise Interrupted
    finally:
        if frames.close():
            src.close()


def embedded_frames(
    engine: Any, groups: Iterable[Sequence[Any]], lookahead: bool = True
) -> Iterator[tuple[Any, Any]]:
    """(frame, embedding) pairs for groups (batches) of Frames, in order.

    When the engine is asynchronous (SAM on CUDA) and ``lookahead`` is allowed, batch
    k+1 is handed to the encoder before batch k's frames are yielded, so the tracker's
    decoder calls on batch k overlap the encoder's work on batch k+1. Otherwise one
    batch at a time (live sources: waiting for the next frame would add a frame
    interval of latency).
    """
    ahead = lookahead and bool(getattr(engine, "asynchronous", False))
    pending: tuple[Sequence[Any], list[Any]] | None = None
    for batch in groups:
        embeddings = engine.embed([f.image for f in batch])
        if not ahead:
            yield from zip(batch, embeddings)
            continue
        if pending is not None:
            yield from zip(*pending)
        pending = (batch, embeddings)
    if pending is not None:
        yield from zip(*pending)


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` consecutive items; the last may be shorter."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
