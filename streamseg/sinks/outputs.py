"""The standard outputs of a run in a folder: masks.zarr, overlay.mp4, rendered.mp4, preview.

``FolderOutputs`` is what a Session writes to for ``streamseg run`` (and ``bench``,
into a temporary folder). Its steps follow the session's: ``start`` (the preview
server, before the source opens), ``check`` (refuse an existing result before any
work), ``prepare`` (build the renderers, then clear old results with --overwrite),
``open`` (the sinks, on the first frame, each in its own thread), ``close`` (every
sink, then the renderers; the first failure is raised), and ``abandon`` (whatever
is still open when the run fails before its first frame).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from streamseg.errors import OutputError
from streamseg.queues import ThreadedSink
from streamseg.sinks.output_config import OutputConfig
from streamseg.storage import Location, location

log = logging.getLogger(__name__)

OUTPUTS = ("masks.zarr", "overlay.mp4", "rendered.mp4")
ZARR_QUEUE = 4  # results waiting for the store at most
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".ts", ".nut"}


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
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise OutputError(
                f"--video-out {path}: the name must end in one of "
                f"{', '.join(sorted(VIDEO_SUFFIXES))} (it sets the container), or be -"
            )
        if path.exists() and not path.is_file():
            raise OutputError(f"--video-out {path} is not a regular file; give a file path or -")
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
        child = out.child(name)
        if not child.local:
            child.remove()
            continue
        target = child.path
        try:
            if target.is_symlink():
                target.unlink()  # the link only, never what it points to
            elif target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        except OSError as error:
            raise OutputError(
                f"cannot replace {target} ({error.strerror or error}); remove it yourself"
            ) from error


class FolderOutputs:
    """masks.zarr, the overlay video, rendered.mp4 (``--inpaint``) and the preview.

    out: the folder, or an fsspec URL / Location (s3://bucket/run: masks.zarr is
    written there directly, the videos locally and uploaded once they closed cleanly).
    overwrite: replace earlier results. observer: times rendering
    and writing (``streamseg bench``). After the run, ``preview`` (the server, if
    any) is closed by ``close``.
    """

    def __init__(
        self,
        out: Path | str | Location,
        config: OutputConfig,
        overwrite: bool = False,
        observer: Any = None,
    ) -> None:
        self.out = location(out)
        self.config, self.overwrite, self.observer = config, overwrite, observer
        self._uploads = contextlib.ExitStack()  # local files sent to a URL --out at the end
        self.preview: Any = None
        self.renderer: Any = None  # the inpainter drawing rendered.mp4
        self.inpaint_meta: dict[str, Any] | None = None
        self._created = self.out.local and not self.out.exists()
        self._session: Any = None
        self._closing = threading.Lock()
        self._closed = False

    def start(self, session: Any) -> None:
        self._session = session
        if self.config.preview:
            from streamseg.live import PreviewServer, parse_bind
            from streamseg.render.overlay import object_colour

            host, port = parse_bind(self.config.preview)
            self.preview = PreviewServer(
                host,
                port,
                registry=session.registry,
                status=session.stats.as_dict,
                colour=object_colour,
                playback=session.playback,
                limits=session.config.preview,
            )
            self.preview.start()

    def show(self, frame: Any) -> None:
        """Put ``frame`` (a Frame, nothing drawn on it) on the preview page."""
        if self.preview is not None:
            self.preview.publish(frame.index, frame.image)

    def check(self) -> None:
        check_output(self.out, self.overwrite, self.config.video_out)

    def prepare(self, session: Any) -> None:
        inpaint = session.config.inpaint
        if inpaint.mode != "off":
            from streamseg.render.inpaint import build_inpainter

            self.renderer, self.inpaint_meta = build_inpainter(inpaint, session.config.model.device)
        prepare_output(self.out, self.overwrite)

    def open(self, session: Any) -> list[ThreadedSink]:
        """The sinks, each in its own thread, once the first frame is known."""
        from streamseg.render.stage import Overlay, RenderedVideo
        from streamseg.sinks.preview import PreviewSink
        from streamseg.sinks.video import VideoSink
        from streamseg.sinks.zarr_store import ZarrSink

        o, stop, info = self.config, session.stop, session.source.info
        attrs = session.metadata()
        if self.inpaint_meta is not None:
            attrs["inpaint"] = self.inpaint_meta  # its "stats" fill in as the run goes
        masks = self.out.child("masks.zarr")
        try:
            zarr: Any = ZarrSink(
                masks.path if masks.local else masks.zarr_store(),
                attrs,
                session.registry.describe,
                o.chunk_frames,
                session.stats.as_dict,
                gaze=bool(session.config.gaze.path or session.config.gaze.mode != "off"),
                flush_seconds=o.flush_seconds,
            )
        except OSError as error:  # a full disk, the folder gone: one line
            raise OutputError(
                f"cannot create {masks} ({error.strerror or error}); check the disk and --out"
            ) from error
        if self.observer is not None:
            from streamseg.observe import ObservedSink

            zarr = ObservedSink(zarr, self.observer)
        # a short queue: what waits there is lost to a SIGKILL (the writes are quick)
        store = ThreadedSink(zarr, min(o.queue_size, ZARR_QUEUE), name="zarr", stop=stop)
        sinks = [store]
        audio = info.uri if o.audio and info.has_audio and info.kind == "file" else None

        def video(path: Path | str, renderer: Any, name: str) -> ThreadedSink:
            encoder = VideoSink(
                path,
                info,
                crf=o.crf,
                preset=o.preset,
                audio_from=audio,
                start=session.config.source.start,
            )
            stall = o.stall if str(path) == "-" else None  # a pipe may stop being read
            sink = RenderedVideo(renderer, encoder, self.observer)
            return ThreadedSink(sink, o.queue_size, name=name, stop=stop, stall=stall)

        def local(name: str) -> Path:  # the file itself, or a temporary one for a URL --out
            return self._uploads.enter_context(self.out.local_file(name))

        if o.overlay:
            sinks.append(video(o.video_out or local("overlay.mp4"), Overlay(o.alpha), "video"))
        if self.renderer is not None:
            sinks.append(video(local("rendered.mp4"), self.renderer, "rendered"))
            self.renderer = None  # closed by its sink from now on
        if self.preview is not None:
            preview = PreviewSink(self.preview, Overlay(o.alpha))
            sinks.append(ThreadedSink(preview, 2, name="preview", stop=stop))
        return sinks

    def close(
        self, sinks: list[ThreadedSink], complete: bool, deadline: float | None = None
    ) -> None:
        """Close every sink even if one fails, then what is left; raise the first failure.

        The store closes last, so its ``complete`` is true only when every other output
        was finished too. Safe to call twice (a second call, e.g. from the signal
        handler's thread while the run's thread closes, waits for the first)."""
        wait = -1.0
        if deadline is not None:  # whoever is closing them already stops at the deadline too
            for sink in sinks:
                sink.give_up_at(deadline)
            wait = max(0.0, deadline - time.monotonic())
        if not self._closing.acquire(timeout=wait):
            return
        try:
            if self._closed:
                return
            self._closed = True
            self._close(sinks, complete, deadline)
        finally:
            self._closing.release()

    def _close(self, sinks: list[ThreadedSink], complete: bool, deadline: float | None) -> None:
        failure: BaseException | None = None
        store = [s for s in sinks if s.name == "zarr"]
        for sink in [s for s in sinks if s.name != "zarr"] + store:
            try:
                sink.close(complete and failure is None, deadline)
            except BaseException as error:  # noqa: BLE001 - the first is re-raised below
                failure = failure or error
        try:
            if failure is None:
                self._uploads.close()  # URL --out: the videos go up once they closed cleanly
        except BaseException as error:  # noqa: BLE001 - raised below
            failure = error
        self.abandon()
        if not sinks and self._is_empty_folder():
            self.out.path.rmdir()  # nothing was decoded: leave no empty folder behind
        if failure is not None:
            raise failure

    def abandon(self) -> None:
        """Close what ``open`` did not take over (idempotent): renderer, preview, an
        output folder made for a run that never started."""
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        if self.preview is not None:
            self.preview.close()
            self.preview = None
        if self._created and self._is_empty_folder():
            self.out.path.rmdir()

    def _is_empty_folder(self) -> bool:
        return self.out.local and self.out.path.is_dir() and not any(self.out.path.iterdir())
