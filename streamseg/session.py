"""The one place a run is assembled: source -> engine -> tracker -> render stage -> sinks.

``Session`` is a context manager that yields FrameResults. Every command is a
Session: ``streamseg.segment()`` (no outputs), ``run`` (streamseg/job.py: the
standard outputs, sinks/outputs.py), ``bench`` (a timing observer, observe.py),
``eval`` (no outputs, scored) and each job of ``batch``.

The flow of one frame: the source decodes in its own thread ahead of the model
(``Prefetch``; live sources keep only the newest frame), frames are grouped into
batches and embedded by the engine (``embedded_frames``: on CUDA the next batch
encodes while this one is tracked), queued requests from the object registry
(preview clicks, removals) and the per-frame hooks (gaze) are applied, the tracker
turns prompts and its state into every object's mask, and the result goes to each
sink's queue (Zarr, the rendered videos, the preview) and to the caller.

Whatever ends the run (end of input, an error in any stage, a signal setting the
stop flag), ``__exit__`` closes every sink (``complete`` only after the end of the
input), the renderers and the source; what was processed is on disk and valid.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from streamseg.config import Config, as_dict
from streamseg.errors import Interrupted
from streamseg.objects import ObjectRegistry
from streamseg.observe import ObservedEngine, Observer, observed_frames
from streamseg.playback import Playback
from streamseg.prompts import parse_prompt, validate
from streamseg.queues import ArrivalPace, Prefetch
from streamseg.sources import Source, open_source
from streamseg.stats import RunStats
from streamseg.types import Frame, FrameResult, Prompt
from streamseg.version import __version__

log = logging.getLogger(__name__)

Hook = Callable[[Frame, Any], None]
PACE_LOOKAHEAD = 48  # frames a live stream is read ahead while its pace is judged
ABORT_SECONDS = 0.6  # what closing the outputs may take when the run is stuck mid-frame


class StopFlag(threading.Event):
    """Set (by a signal handler) to end a run between frames.

    ``armed`` turns true once frames flow; before that (opening a stream, loading a
    model) there is nothing to finalize, and a signal should interrupt at once.
    """

    armed = False

    def abort(self) -> None:
        """Close the run's outputs now (complete false), from the signal handler's thread
        when the run does not reach the end of its frame in time; set by the Session."""


class Session:
    """One run. ``with Session(source, prompts, config) as session: for result in session``.

    prompts: Prompt objects, or ``--prompt`` strings ("100,80 -300,40"), one object
    each; ``via`` says where they came from (kept in the objects' history).
    outputs: what the results are written to (sinks/outputs.py FolderOutputs), or
    None. observer: times the stages (observe.py). stop: a StopFlag a signal handler
    sets. engine, engine_meta: a ready engine (tests, a batch worker reusing its
    engine) instead of building one from ``config.model``.

    After ``__enter__``: ``source`` (its ``info``), ``engine``, ``engine_meta``,
    ``tracker``, ``registry``, ``stats``; ``metadata()`` is what the outputs record.
    After the run: ``frames`` processed and ``complete`` (the input was read to its end).
    """

    def __init__(
        self,
        source: str,
        prompts: Sequence[Prompt | str] = (),
        config: Config | None = None,
        *,
        via: str = "cli",
        outputs: Any = None,
        observer: Observer | None = None,
        stop: StopFlag | None = None,
        engine: Any = None,
        engine_meta: dict[str, Any] | None = None,
    ) -> None:
        self.config = config or Config()
        self.config.validate()  # settings errors before any work starts
        self.spec, self.via = source, via
        self.prompts = [
            p if isinstance(p, Prompt) else parse_prompt(p, i + 1) for i, p in enumerate(prompts)
        ]
        self.outputs, self.observer, self.stop = outputs, observer, stop
        limits = self.config.preview
        self.registry = ObjectRegistry(limits.max_pending, limits.max_objects, limits.max_points)
        self.stats = RunStats()
        self.playback = Playback()  # paused from the preview page (files only)
        self.engine, self.engine_meta = engine, dict(engine_meta or {})
        self.hooks: list[Hook] = []
        self.frames, self.complete = 0, False
        self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._stack = contextlib.ExitStack()
        self._sinks: list[Any] = []
        self._results: Generator[FrameResult, None, None] | None = None
        self._decoder_stuck = False  # a decode thread still inside the source

    # -- assembling -------------------------------------------------------------------

    def __enter__(self) -> Session:
        try:
            self._assemble()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _assemble(self) -> None:
        config, outputs = self.config, self.outputs
        if outputs is not None:  # the preview is up before a live probe, which can take a while
            self._stack.callback(outputs.abandon)
            outputs.start(self)
        self.source: Source = open_source(self.spec, config.source)
        self._stack.callback(self._close_source)
        info = self.source.info
        # Everything that can refuse the run comes before the outputs clear old results.
        if outputs is not None:
            outputs.check()
        validate(self.prompts, info.width, info.height, info.frames)
        if config.gaze.path or config.gaze.mode != "off":
            from streamseg.gaze.prompts import gaze_hook

            self.hooks.append(gaze_hook(config.gaze, self.source, self.registry))
        if self.engine is None:
            from streamseg.engines import build_engine

            self.engine, self.engine_meta = build_engine(config)
        if self.observer is not None:
            self.engine = ObservedEngine(self.engine, self.observer)
        self.tracker = self._tracker()
        self.tracker.add_prompts(self.registry.register(self.prompts, self.via))
        if outputs is not None:
            outputs.prepare(self)

    def _tracker(self) -> Any:
        """The engine's own tracker (video models keep their memory there), else the
        tracker that carries prompts by optical flow (track/tracker.py)."""
        create = getattr(self.engine, "create_tracker", None)
        if create is not None:
            return create(self.config)
        from streamseg.track.tracker import Tracker

        return Tracker(self.engine, self.config.tracker)

    def metadata(self) -> dict[str, Any]:
        """What the outputs record: versions, engine (as resolved), config, source, objects."""
        meta: dict[str, Any] = {
            "streamseg_version": __version__,
            "engine": self.engine_meta,
            "config": as_dict(self.config),
            "created": self.created,
            "source": self.source.info.as_dict(),
        }
        recording = getattr(self.source, "metadata", None)
        if self.source.info.kind == "vrs" and callable(recording):
            meta["recording"] = recording()  # Aria: stream, turn, calibration, recording
        if self.engine_meta.get("batch_size") is not None:  # SAM halves it when CUDA
            meta["engine"]["batch_size"] = getattr(
                self.engine, "batch_size", None
            )  # memory runs out
        return meta

    # -- running ----------------------------------------------------------------------

    def __iter__(self) -> Generator[FrameResult, None, None]:
        if self._results is None:
            self._results = self._run()
        return self._results

    def _run(self) -> Generator[FrameResult, None, None]:
        sinks: list[Any] = []
        self._sinks = sinks
        if self.stop is not None and self.outputs is not None:
            self.stop.abort = self._abort  # type: ignore[method-assign]
        try:
            for result in self._flow():
                if not self.frames:  # scripts/startup_time.py waits for this line
                    log.debug("first frame processed")
                if not sinks and self.outputs is not None:  # once the first frame is known
                    sinks.extend(self.outputs.open(self))
                for sink in sinks:
                    sink.write(result)
                self.frames += 1
                yield result
            self.complete = True
        finally:
            if "batch_size" in self.engine_meta:  # SAM halves it when CUDA memory runs out;
                self.engine_meta["batch_size"] = self.engine.batch_size  # the store says so
            if self.outputs is not None:
                self.outputs.close(sinks, self.complete)

    def _abort(self) -> None:
        """Close the outputs (complete false) from another thread: the run's thread is
        stuck inside a frame or a read and will not get to it in time."""
        if self.outputs is not None:
            self.outputs.close(self._sinks, False, time.monotonic() + ABORT_SECONDS)

    def _flow(self) -> Iterator[FrameResult]:
        """Decode ahead in a thread; embed in batches; track frame by frame.

        Live sources drop stale frames instead of queueing them (counted in ``stats``)
        and run one frame at a time, so latency stays bounded. When ``stop`` is set,
        Interrupted is raised between frames, never inside a stage.
        """
        src, config, stop, observer = self.source, self.config, self.stop, self.observer
        live = src.info.live
        decoded = src.frames()
        if observer is not None:
            decoded = observed_frames(decoded, observer)
        read_ahead = getattr(self.tracker, "read_ahead", None)
        if read_ahead is not None and not live:  # the flow, in the decode thread
            decoded = read_ahead(decoded)
        # --live / --no-live force it; by default a stream drops frames only while they
        # come at its own pace (a file piped in faster than real time loses nothing),
        # and is read ahead meanwhile to see that pace
        judged = live and config.source.live is None
        frames = Prefetch(
            decoded,
            max(PACE_LOOKAHEAD, config.source.live_queue)
            if judged
            else config.source.live_queue
            if live
            else config.source.queue_size,
            name="decode",
            drop_stale=live,
            on_drop=self.stats.add_dropped,
            stop=stop,
            pace=ArrivalPace() if judged else None,
            keep=config.source.live_queue,
        )
        # Files: the engine's batch (SAM on CUDA: 8 frames per encoder call), the next
        # batch encoding while this one is tracked. Live: one frame at a time and no
        # reading ahead, since waiting for more frames is latency.
        size = (
            1 if live else max(1, config.model.batch_size or getattr(self.engine, "batch_size", 1))
        )
        step = observer.stage if observer is not None else _no_stage
        hold = self._holds_first_frame()
        if stop is not None:
            stop.armed = True
        try:
            for frame, embedding in embedded_frames(
                self.engine, batches(frames, size), lookahead=not live
            ):
                if hold:
                    hold = False
                    self._wait_for_first_object(frame)
                if not live:  # a camera does not stop because the page paused
                    self.playback.wait(stop)
                self.registry.apply(self.tracker, frame.index)
                for hook in self.hooks:
                    hook(frame, self.tracker)
                with step("step"):
                    result = self.tracker.step(frame, embedding)
                result.latency = time.monotonic() - frame.arrival
                self.stats.frame_done(frame.index, result.latency)
                self.registry.update_status(self.tracker)
                yield result
                if stop is not None and stop.is_set():
                    raise Interrupted
            if stop is not None and stop.is_set():
                raise Interrupted  # the source ended because of the signal: not complete
        finally:
            self.registry.close()
            # The source closes only once its decode thread has stopped: closing a
            # container under a thread still reading it is not safe.
            self._decoder_stuck = not frames.close()

    def _holds_first_frame(self) -> bool:
        """A file with the preview on and nothing to track yet waits at its first frame
        until an object is clicked (``output.wait``, --no-wait); a live source never does."""
        return (
            getattr(self.outputs, "preview", None) is not None
            and self.config.output.wait
            and not self.source.info.live
            and not self.prompts
            and self.config.gaze.mode == "off"
        )

    def _wait_for_first_object(self, frame: Frame) -> None:
        self.outputs.show(frame)
        self.playback.pause("waiting for the first object: click it on the page")
        log.info("preview: waiting at frame %d until an object is clicked", frame.index)
        while not self.registry.ids() and self.playback.paused:
            time.sleep(0.05)
            if self.stop is not None and self.stop.is_set():
                raise Interrupted
        self.playback.play()

    def _close_source(self) -> None:
        if self._decoder_stuck:
            log.warning("the source did not stop reading in time; leaving it open")
            return
        self.source.close()

    def __exit__(self, *exc: object) -> None:
        try:
            if self._results is not None:
                self._results.close()  # closes the sinks (complete only after the end)
        finally:
            self._stack.close()


def _no_stage(name: str) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


def segment(
    source: str,
    prompts: Sequence[Prompt | str] = (),
    *,
    model: str | None = None,
    config: Config | None = None,
) -> Iterator[FrameResult]:
    """Segment ``source`` and yield one FrameResult per frame, as soon as it is ready.

    prompts: Prompt objects, or ``--prompt`` strings ("100,80 -300,40"), one object each.
    model: the engine, instead of ``config.model.name``. Nothing is written to disk.
    """
    config = config or Config()
    if model is not None:
        import dataclasses

        config = dataclasses.replace(config, model=dataclasses.replace(config.model, name=model))
    with Session(source, prompts, config, via="api") as session:
        yield from session


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
