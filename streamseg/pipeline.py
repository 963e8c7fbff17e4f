"""The frame flow: source thread -> engine + tracker -> sink threads.

``segment`` is the Python API (results as they are produced, no files);
``run`` is the CLI's job: the same flow with the Zarr store and the overlay video
as sinks, progress on stderr, and every output finalized however the run ends.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from streamseg.config import Config, as_dict
from streamseg.engines import build_engine
from streamseg.errors import OutputError
from streamseg.io.source import Source, open_source
from streamseg.io.threads import Prefetch, ThreadedSink
from streamseg.live.controls import Controls, start_preview
from streamseg.prompts import parse_prompt, validate
from streamseg.stats import RunStats
from streamseg.track.tracker import Tracker
from streamseg.types import FrameResult, Prompt

log = logging.getLogger(__name__)

OUTPUTS = ("masks.zarr", "overlay.mp4")


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
    yield from _results(src, engine, tracker, config)


def _results(
    src: Source,
    engine: Any,
    tracker: Tracker,
    config: Config,
    stats: RunStats | None = None,
    controls: Controls | None = None,
) -> Iterator[FrameResult]:
    """Decode ahead in a thread; embed in batches; track frame by frame. Closes ``src``.

    Live sources drop stale frames instead of queueing them (counted in ``stats``)
    and run one frame at a time, so latency stays bounded.
    """
    stats = stats or RunStats()
    live = src.info.live
    frames = Prefetch(
        src.frames(),
        config.source.live_queue if live else config.source.queue_size,
        name="decode",
        drop_stale=live,
        on_drop=stats.add_dropped,
    )
    batch_size = 1 if live else max(1, config.model.batch_size)
    try:
        for batch in _batches(frames, batch_size):
            embeddings = engine.embed([f.image for f in batch])
            for frame, embedding in zip(batch, embeddings, strict=True):
                if controls is not None:
                    controls.apply(tracker, frame.index)
                result = tracker.step(frame, embedding)
                result.latency = time.monotonic() - frame.arrival
                stats.frame_done(frame.index, result.latency)
                yield result
    finally:
        if frames.close():
            src.close()


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class RunSummary:
    out: Path
    frames: int
    complete: bool
    seconds: float
    engine: dict[str, Any]
    stats: RunStats


def prepare_output(out: Path, overwrite: bool) -> None:
    """Create ``out`` (or clear our own outputs in it with ``overwrite``); check it is writable."""
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise OutputError(
            f"{out} already holds {', '.join(existing)}; pass --overwrite to "
            "replace it, or choose another --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".streamseg-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputError(
            f"cannot write to {out} ({error.strerror}); choose another --out"
        ) from error
    for name in existing:  # only our own outputs, never anything else in the folder
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def run(
    source: str,
    prompts: list[Prompt],
    out: Path,
    config: Config,
    *,
    overwrite: bool = False,
    quiet: bool = False,
) -> RunSummary:
    """Segment ``source`` into ``out``/masks.zarr and ``out``/overlay.mp4.

    Whatever ends the run (end of input, an error, Ctrl-C), every frame processed
    so far is on disk and both outputs are valid; the error is re-raised.
    """

    controls = Controls()
    objects: dict[int, dict[str, Any]] = {}
    for p in prompts:
        objects.setdefault(p.object_id, {"name": p.name, "prompts": []})
        objects[p.object_id]["prompts"].append(p.describe())
    stats = RunStats()
    preview = None
    if config.output.preview:  # up before the source opens: a live probe can take a while
        preview = start_preview(config.output.preview, controls, objects, stats)
    try:
        return _run(
            source, prompts, out, config, overwrite, quiet, controls, objects, stats, preview
        )
    finally:
        if preview is not None:
            preview.close()


def _run(
    source: str,
    prompts: list[Prompt],
    out: Path,
    config: Config,
    overwrite: bool,
    quiet: bool,
    controls: Controls,
    objects: dict[int, dict[str, Any]],
    stats: RunStats,
    preview: Any,
) -> RunSummary:
    from tqdm import tqdm

    from streamseg import __version__

    src = open_source(source, config.source)
    try:
        validate(prompts, src.info.width, src.info.height)
        created = not out.exists()
        prepare_output(out, overwrite)
        try:
            engine, engine_meta = build_engine(config)
        except BaseException:
            if created:
                out.rmdir()
            raise
    except BaseException:
        src.close()
        raise
    tracker = Tracker(engine, config.tracker)
    tracker.add_prompts(prompts)
    controls.tracker = tracker
    attrs = {
        "streamseg_version": __version__,
        "engine": engine_meta,
        "config": as_dict(config),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    total = src.info.frames
    if total is not None:
        total = max(0, total - round(config.source.start * (src.info.fps or 0)))
    if config.source.max_frames is not None:
        total = min(total or config.source.max_frames, config.source.max_frames)
    sinks: list[ThreadedSink] = []
    frames, complete, started = 0, False, time.monotonic()
    bar = tqdm(total=total, unit="frame", disable=quiet, dynamic_ncols=True, leave=False)
    try:
        for result in _results(src, engine, tracker, config, stats, controls):
            if not sinks:  # opened on the first frame, once the source's details are known
                attrs["source"] = src.info.as_dict()
                sinks = _open_sinks(out, src, attrs, objects, config, stats, preview)
            for sink in sinks:
                sink.write(result)
            frames += 1
            bar.update(1)
        complete = True
    finally:
        bar.close()
        _close_all(sinks, complete)
        if not sinks and not any(out.iterdir()):
            out.rmdir()  # nothing was decoded: leave no empty folder behind
    return RunSummary(out, frames, complete, time.monotonic() - started, engine_meta, stats)


def _open_sinks(
    out: Path,
    src: Source,
    attrs: dict,
    objects: dict,
    config: Config,
    stats: RunStats,
    preview: Any = None,
) -> list[ThreadedSink]:
    from streamseg.io.video_sink import VideoSink
    from streamseg.io.zarr_sink import ZarrSink
    from streamseg.render.overlay import draw_overlay

    o = config.output
    sinks = [
        ThreadedSink(
            ZarrSink(out / "masks.zarr", attrs, objects, o.chunk_frames, stats.as_dict),
            o.queue_size,
            name="zarr",
        )
    ]
    if o.overlay:
        audio = src.info.uri if o.audio and src.info.has_audio and src.info.kind == "file" else None
        video = VideoSink(
            o.video_out or out / "overlay.mp4",
            src.info,
            lambda r: draw_overlay(r, o.alpha),
            crf=o.crf,
            preset=o.preset,
            audio_from=audio,
            start=config.source.start,
        )
        sinks.append(ThreadedSink(video, o.queue_size, name="video"))
    if preview is not None:
        from streamseg.live import PreviewSink

        sinks.append(ThreadedSink(PreviewSink(preview, o.alpha), 2, name="preview"))
    return sinks


def _close_all(sinks: list[ThreadedSink], complete: bool) -> None:
    """Close every sink even if one fails; then raise the first failure."""
    failure: BaseException | None = None
    for sink in sinks:
        try:
            sink.close(complete)
        except BaseException as error:  # noqa: BLE001 - the first is re-raised below
            failure = failure or error
    if failure is not None:
        raise failure
