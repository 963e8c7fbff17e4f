"""One `streamseg run`: the frame flow with its outputs, progress and live controls.

``run`` opens the source, checks the prompts, prepares OUT, builds the engine and
tracker, then writes every result to the sinks (masks.zarr, the overlay video, the
preview) in their own threads. Whatever ends the run (end of input, an error in
any stage, Ctrl-C or SIGTERM), every frame processed so far is on disk and every
output is valid; the error is re-raised.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from streamseg import __version__
from streamseg.config import Config, as_dict
from streamseg.engines import build_engine
from streamseg.errors import OutputError
from streamseg.io.source import Source, open_source
from streamseg.io.threads import ThreadedSink
from streamseg.live.controls import Controls, start_preview
from streamseg.pipeline import StopFlag, frame_results
from streamseg.prompts import validate
from streamseg.stats import RunStats
from streamseg.storage import Location, location
from streamseg.track.tracker import Tracker
from streamseg.types import Prompt

log = logging.getLogger(__name__)

OUTPUTS = ("masks.zarr", "overlay.mp4", "rendered.mp4")


@dataclass
class RunSummary:
    out: Path | str
    frames: int
    complete: bool
    seconds: float
    engine: dict[str, Any]
    stats: RunStats


def check_output(out: Path | str | Location, overwrite: bool, video_out: str | None = None) -> None:
    """Refuse an ``out`` (a folder or a URL; or a ``video_out``) that holds results already,
    unless ``overwrite``, or a ``video_out`` in a folder that does not exist. No side effects."""
    out = location(out)
    existing = [name for name in OUTPUTS if out.child(name).exists()]
    if existing and not overwrite:
        raise OutputError(
            f"{out} already holds {', '.join(existing)}; pass --overwrite to replace it, "
            "or choose another --out"
        )
    if video_out and video_out != "-":
        path = Path(video_out)
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass --overwrite or another --video-out")
        if not path.parent.is_dir():
            raise OutputError(f"no folder {path.parent} for --video-out; create it first")


def prepare_output(out: Path | str | Location, overwrite: bool) -> None:
    """Create ``out`` (or clear our own outputs in it with ``overwrite``); check it is writable."""
    out = location(out)
    check_output(out, overwrite)
    out.check_writable()
    for name in OUTPUTS:  # only our own outputs, never anything else in the folder
        out.child(name).remove()


def run(
    source: str,
    prompts: list[Prompt],
    out: Path | str | Location,
    config: Config,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    stop: StopFlag | None = None,
    engine: tuple[Any, dict[str, Any]] | None = None,
) -> RunSummary:
    """Segment ``source`` into ``out``/masks.zarr and ``out``/overlay.mp4.

    out: a folder, or an fsspec URL / streamseg.storage.Location (s3://bucket/x): masks.zarr
    is written there directly, overlay.mp4 locally then uploaded once the run ends cleanly.
    stop: set it (from a signal handler) to end the run cleanly between frames.
    engine: an already built (engine, metadata) to reuse (batch workers load it once).
    """
    config.validate()  # settings errors before any work starts
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
        job = _Job(config, location(out), controls, objects, stats, preview, stop, engine)
        return job.run(source, prompts, overwrite, quiet)
    finally:
        if preview is not None:
            preview.close()


@dataclass
class _Job:
    config: Config
    out: Location
    controls: Controls
    objects: dict[int, dict[str, Any]]
    stats: RunStats
    preview: Any
    stop: StopFlag | None
    prebuilt: tuple[Any, dict[str, Any]] | None = None  # (engine, metadata) to reuse
    uploads: contextlib.ExitStack | None = None  # local files sent to a URL --out at the end
    renderer: Any = None  # the inpainter drawing rendered.mp4 (--inpaint)
    inpaint_meta: dict[str, Any] | None = None

    def run(self, source: str, prompts: list[Prompt], overwrite: bool, quiet: bool) -> RunSummary:
        from tqdm import tqdm

        config, out = self.config, self.out
        src = open_source(source, config.source)
        created = out.local and not out.exists()
        try:
            # Everything that can refuse the job runs before --overwrite clears old results.
            check_output(out, overwrite, config.output.video_out)
            validate(prompts, src.info.width, src.info.height)
            hooks = []
            if config.gaze.path or config.gaze.mode != "off":
                first_id = max((p.object_id for p in prompts), default=0) + 1
                hooks.append(self.gaze_prompts(src, first_id))
            if self.prebuilt is not None:
                engine, engine_meta = self.prebuilt[0], dict(self.prebuilt[1])
            else:
                engine, engine_meta = build_engine(config)
            tracker = Tracker(engine, config.tracker)
            tracker.add_prompts(prompts)
            if config.inpaint.mode != "off":
                from streamseg.render.inpaint import build_inpainter

                self.renderer, self.inpaint_meta = build_inpainter(
                    config.inpaint, config.model.device
                )
            prepare_output(out, overwrite)
        except BaseException:
            src.close()
            if self.renderer is not None:
                self.renderer.close()
            if created and out.path.is_dir() and not any(out.path.iterdir()):
                out.path.rmdir()
            raise
        self.controls.tracker = tracker
        attrs = {
            "streamseg_version": __version__,
            "engine": engine_meta,
            "config": as_dict(config),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if src.info.kind == "vrs":  # Aria: stream, turn, calibration, recording
            attrs["recording"] = src.metadata()
        if self.renderer is not None:
            attrs["inpaint"] = self.inpaint_meta  # its "stats" fill in as the run goes
        sinks: list[ThreadedSink] = []
        frames, complete, started = 0, False, time.monotonic()
        bar = tqdm(
            total=expected_frames(src, config),
            unit="frame",
            disable=quiet,
            dynamic_ncols=True,
            leave=False,
        )
        results = frame_results(
            src, engine, tracker, config, self.stats, self.controls, self.stop, hooks
        )
        self.uploads = contextlib.ExitStack()
        try:
            for result in results:  # closed in the finally: the decode thread stops at once
                if not sinks:  # opened on the first frame, once the source's details are known
                    attrs["source"] = src.info.as_dict()
                    sinks = self.open_sinks(src, attrs)
                for sink in sinks:
                    sink.write(result)
                frames += 1
                bar.update(1)
            complete = True
        finally:
            results.close()
            bar.close()
            if "batch_size" in engine_meta:  # SAM halves it when CUDA memory runs out;
                engine_meta["batch_size"] = engine.batch_size  # attrs are rewritten on close
            try:
                with self.uploads:  # URL --out: uploads once every sink closed cleanly
                    _close_all(sinks, complete)
            finally:
                if self.renderer is not None:
                    self.renderer.close()
            if out.local and not sinks and not any(out.path.iterdir()):
                out.path.rmdir()  # nothing was decoded: leave no empty folder behind
        where = out.path if out.local else str(out)
        return RunSummary(
            where, frames, complete, time.monotonic() - started, engine_meta, self.stats
        )

    def gaze_prompts(self, src: Source, first_id: int) -> Any:
        """The per-frame gaze hook; UsageError when the gaze cannot be had."""
        from streamseg.errors import UsageError
        from streamseg.io.gaze import GazePrompter, GazeTrack
        from streamseg.track.gaze_prompts import GazePrompts

        g = self.config.gaze
        if g.mode not in ("off", "first", "fixation"):
            raise UsageError(f"gaze mode {g.mode!r} is unknown; use off, first or fixation")
        if not g.path:
            if not str(getattr(src, "device_version", "")).endswith("Gen2"):
                raise UsageError(
                    "gaze prompts need --gaze PATH (MPS general_eye_gaze.csv), or a Gen2 "
                    "recording with on-device gaze"
                )
            g.path = "device"
        track = GazeTrack(g.path, src, g.tolerance, g.depth)
        prompter = GazePrompter(track, g.mode, first_id=first_id) if g.mode != "off" else None
        return GazePrompts(track, prompter, self.objects)

    def open_sinks(self, src: Source, attrs: dict) -> list[ThreadedSink]:
        from streamseg.io.video_sink import VideoSink
        from streamseg.io.zarr_sink import ZarrSink
        from streamseg.render.overlay import draw_overlay

        o, out = self.config.output, self.out
        gaze = bool(self.config.gaze.path)
        masks = out.child("masks.zarr")
        zarr = ZarrSink(
            masks.path if masks.local else masks.zarr_store(),
            attrs,
            self.objects,
            o.chunk_frames,
            self.stats.as_dict,
            gaze,
        )
        sinks = [ThreadedSink(zarr, o.queue_size, name="zarr", stop=self.stop)]
        info = src.info
        audio = info.uri if o.audio and info.has_audio and info.kind == "file" else None

        def local(name: str) -> Path:  # the file itself, or a temporary one for a URL --out
            assert self.uploads is not None
            return self.uploads.enter_context(out.local_file(name))

        def video(path: Path | str, draw: Any, name: str) -> ThreadedSink:
            # A pipe may stop being read; a file always drains.
            piped = str(path) == "-"
            sink = VideoSink(
                path,
                info,
                draw,
                crf=o.crf,
                preset=o.preset,
                audio_from=audio,
                start=self.config.source.start,
            )
            stall = o.stall if piped else None
            return ThreadedSink(sink, o.queue_size, name=name, stop=self.stop, stall=stall)

        if o.overlay:
            sinks.append(
                video(
                    o.video_out or local("overlay.mp4"), lambda r: draw_overlay(r, o.alpha), "video"
                )
            )
        if self.renderer is not None:
            sinks.append(video(local("rendered.mp4"), self.renderer, "rendered"))
        if self.preview is not None:
            from streamseg.live import PreviewSink

            preview = PreviewSink(self.preview, o.alpha)
            sinks.append(ThreadedSink(preview, 2, name="preview", stop=self.stop))
        return sinks


def expected_frames(src: Source, config: Config) -> int | None:
    """Frames the progress bar expects: the source's count less --start, capped by --max-frames."""
    total = src.info.frames
    if total is not None:
        total = max(0, total - round(config.source.start * (src.info.fps or 0)))
    if config.source.max_frames is not None:
        total = min(total or config.source.max_frames, config.source.max_frames)
    return total


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
