"""Frame sources: anything FFmpeg reads (PyAV), and folders or patterns of images.

``open_source(spec, config)`` picks one from the spec and returns an object with
``info`` (a SourceInfo, known before the first frame) and ``frames()`` (an iterator
of Frame). Sources never drop frames; they warn about frames that fail to decode
and go on with the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from streamseg.errors import SourceError, SourceNotFoundError, UsageError
from streamseg.types import Frame

log = logging.getLogger(__name__)

URL_SCHEMES = (
    "rtsp://",
    "rtmp://",
    "rtmps://",
    "srt://",
    "udp://",
    "tcp://",
    "http://",
    "https://",
    "file://",
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MAX_CONSECUTIVE_ERRORS = 100  # after this many packets fail in a row, the rest is junk


@dataclass
class SourceConfig:
    """How to read the input.

    start: seconds to skip at the beginning. max_frames: stop after this many
    frames (None: all). fps: frame rate given to image folders and patterns.
    format: force FFmpeg's container format (e.g. "mpegts", "v4l2"); None probes.
    options: FFmpeg input options (video_size, framerate, input_format...).
    queue_size: frames decoded ahead of the model (files: never dropped).
    live: keep latency bounded by dropping stale frames when processing falls
    behind; None means on for devices, stdin and network streams, off for files.
    live_queue: frames a live source keeps waiting (the newest ones).
    reconnect: reopen a network stream that fails or ends, with backoff.
    reconnect_tries: attempts before giving up (then the run ends normally).
    rotate: clockwise turn of every frame: "auto" (upright: Aria recordings, and
    the display rotation of phone videos), "0", "90", "180" or "270".
    stream: the camera of an Aria VRS recording (label such as "camera-rgb",
    "camera-slam-left", or a stream id "214-1"). undistort: Aria fisheye frames to
    a pinhole camera (prompts and outputs are then in the undistorted frame).
    """

    start: float = 0.0
    max_frames: int | None = None
    fps: float = 24.0
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    queue_size: int = 8
    live: bool | None = None
    live_queue: int = 1
    reconnect: bool = False
    reconnect_tries: int = 5
    rotate: str = "auto"
    stream: str = "camera-rgb"
    undistort: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the counts and times (UsageError); also after ``--set`` edits."""
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(f"--max-frames {self.max_frames}: give 1 or more (or leave it out)")
        if self.start < 0:
            raise UsageError(f"--start {self.start:g} is negative; give seconds from the start")
        if self.fps <= 0:
            raise UsageError(f"--fps {self.fps:g} must be above 0")


@dataclass
class SourceInfo:
    """What is known about a source before its first frame.

    kind: "file", "url", "stdin", "device" or "images"; live: frames arrive in real
    time (devices, stdin, network), so stale ones may be dropped. rate and time_base are fractions
    written as strings ("30000/1001"); frames is the expected count (None when
    unknown: live sources, some containers). rotation: the clockwise turn (0, 90, 180,
    270) applied to the frames this source yields. display_rotation: the file's
    display matrix as FFmpeg reports it, degrees counter-clockwise in [0, 360) (PyAV
    sources only, known once the first frame is decoded; 0 when there is none).
    """

    uri: str
    kind: str
    width: int
    height: int
    rate: str | None
    time_base: str
    frames: int | None
    duration: float | None
    rotation: int
    has_audio: bool
    live: bool = False
    display_rotation: int = 0

    @property
    def fps(self) -> float | None:
        return float(Fraction(self.rate)) if self.rate else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": self.fps}


def _short(decoded: int, announced: int | None) -> bool:
    """True when a stream that ran to its end gave clearly fewer frames than its header
    said (a few may legitimately be missing: edit lists, a B-frame at the very end)."""
    return bool(announced) and announced - decoded > max(2, announced // 100)


class Source(Protocol):
    info: SourceInfo

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


DEVICE_FORMATS = {
    "v4l2",
    "video4linux2",
    "avfoundation",
    "dshow",
    "gdigrab",
    "x11grab",
    "lavfi",
    "decklink",
    "kmsgrab",
}


def open_source(spec: str, config: SourceConfig | None = None) -> Source:
    """Open ``spec`` and turn its frames as ``config.rotate`` says (see _open for kinds)."""
    from streamseg.io.rotate import RotatedSource

    config = config or SourceConfig()
    source = _open(spec, config)
    if getattr(source, "applied_rotation", None) is not None:
        return source  # Aria recordings turn their own frames
    if config.rotate == "0" or isinstance(source, ImageSource) and config.rotate == "auto":
        return source
    return RotatedSource(source, config.rotate)


def _open(spec: str, config: SourceConfig) -> Source:
    """A video path, URL, ``-`` (stdin), device, Aria .vrs, image folder or ``%d`` pattern."""
    if spec.startswith("/dev/video") and config.format is None:
        config.format = "v4l2"
    if spec == "-" or spec.startswith(URL_SCHEMES) or config.format in DEVICE_FORMATS:
        return PyAVSource(spec, config)
    path = Path(spec)
    if path.is_dir() or re.search(r"%0?\d*d", spec):
        return ImageSource(spec, config)
    if not path.exists():
        raise SourceNotFoundError(f"no such file: {spec}; check the path")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(spec, config)
    if path.suffix.lower() == ".vrs":
        from streamseg.io.aria import AriaSource

        return AriaSource(spec, config, config.stream, config.rotate, config.undistort)
    return PyAVSource(spec, config)


def _limit(frames: Iterator[Frame], config: SourceConfig) -> Iterator[Frame]:
    """Skip frames before ``config.start``, renumber from 0, stop at ``max_frames``."""
    index = 0
    for frame in frames:
        if frame.time < config.start - 1e-6:
            continue
        if config.max_frames is not None and index >= config.max_frames:
            return
        frame.index = index
        frame.arrival = time.monotonic()
        yield frame
        index += 1
    if index == 0:
        raise SourceError(
            "no frame could be decoded from the source (empty, or all past "
            "--start); check the file or lower --start"
        )


class PyAVSource:
    """Video through FFmpeg (PyAV): files, URLs, stdin, devices."""

    def __init__(self, spec: str, config: SourceConfig) -> None:
        import av

        self.config, self.spec = config, spec
        kind = (
            "stdin"
            if spec == "-"
            else "url"
            if spec.startswith(URL_SCHEMES) and not spec.startswith("file://")
            else "device"
            if config.format in DEVICE_FORMATS
            else "file"
        )
        try:
            self.container = self._open()
        except FileNotFoundError as error:
            raise SourceNotFoundError(f"no such file: {spec}; check the path") from error
        except (av.error.FFmpegError, ValueError) as error:
            raise SourceError(
                f"cannot read {spec} as video ({error}); "
                "give a video file, image folder, URL or '-'"
            ) from error
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(f"{spec} has no video stream; give a file with video in it")
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        rate = self.stream.average_rate or self.stream.guessed_rate
        time_base = self.stream.time_base or (1 / Fraction(rate) if rate else Fraction(1, 90000))
        duration = None
        if self.stream.duration is not None:
            duration = float(self.stream.duration * time_base)
        elif self.container.duration is not None:
            duration = self.container.duration / 1e6
        frames = self.announced = self.stream.frames or None  # the header's exact count
        if not frames and duration and rate:
            frames = round(duration * float(rate))  # an estimate (MKV: audio may run longer)
        self.info = SourceInfo(
            uri=spec,
            kind=kind,
            width=ctx.width,
            height=ctx.height,
            rate=str(Fraction(rate)) if rate else None,
            time_base=str(Fraction(time_base)),
            frames=frames,
            duration=duration,
            rotation=0,
            has_audio=bool(self.container.streams.audio),
            live=kind != "file" if config.live is None else config.live,
        )
        self.stream.thread_type = self.thread_type
        if not ctx.width or not ctx.height:
            self.container.close()
            raise SourceError(f"{spec}: the video stream has no frame size; is the file complete?")

    @property
    def thread_type(self) -> str:
        """Files: frame and slice threads, so decoding keeps ahead. Live: slice threads
        only, since frame threads hold frames back and release them in bursts."""
        return "SLICE" if self.info.live else "AUTO"

    def _open(self) -> Any:
        import av

        # FFmpeg's own pipe reader returns what has arrived; a Python file object would
        # block until its 32 KiB buffer is full, delivering a live stream in bursts.
        target = "pipe:0" if self.spec == "-" else self.spec
        options = dict(self.config.options)
        network = self.spec.startswith(URL_SCHEMES) and not self.spec.startswith("file://")
        if self.spec.startswith(("rtsp://", "rtsps://")):
            options.setdefault("rtsp_transport", "tcp")  # UDP loses packets on busy networks
        if self.spec == "-" or network or self.config.format in DEVICE_FORMATS:
            # FFmpeg probes up to 5 s of input before the first frame by default: on a live
            # stream that is 5 s of latency. Half a second finds the streams just as well.
            options.setdefault("analyzeduration", "500000")
            options.setdefault("probesize", "500000")
        return av.open(
            target,
            format=self.config.format,
            options=options,
            metadata_errors="ignore",
            timeout=10.0 if network else None,
        )

    def frames(self) -> Iterator[Frame]:
        if self.info.kind == "url" and self.config.reconnect:
            return _limit(self._reconnecting(), self.config)
        return _limit(self._decode(), self.config)

    def _reconnecting(self) -> Iterator[Frame]:
        """Decode; when the stream fails or ends, reopen it after 1, 2, 4... s.

        Frames are renumbered consecutively by ``_limit``; timestamps are the stream's.
        """
        import av

        tries = 0
        while True:
            try:
                for frame in self._decode():
                    tries = 0
                    yield frame
                log.warning("%s: stream ended; reconnecting", self.info.uri)
            except (av.error.FFmpegError, OSError) as error:
                log.warning("%s: stream failed (%s); reconnecting", self.info.uri, error)
            while True:  # reopen, waiting longer after each failed attempt
                tries += 1
                if tries > self.config.reconnect_tries:
                    log.warning(
                        "%s: gave up after %d reconnection attempts",
                        self.info.uri,
                        self.config.reconnect_tries,
                    )
                    return
                time.sleep(min(2 ** (tries - 1), 30))
                with contextlib.suppress(av.error.FFmpegError, OSError):
                    self.container.close()
                try:
                    self.container = self._open()
                    self.stream = self.container.streams.video[0]
                    self.stream.thread_type = self.thread_type
                    break
                except (av.error.FFmpegError, OSError, IndexError) as error:
                    log.warning("%s: reconnection failed (%s)", self.info.uri, error)

    def _decode(self, seek: bool = True) -> Iterator[Frame]:
        import av

        # Times count from the stream's first timestamp (MPEG-TS starts at 1.4 s, say).
        zero = self.stream.start_time or 0
        sought = False
        if seek and self.config.start > 0 and self.info.kind == "file":
            offset = zero + int(self.config.start / Fraction(self.info.time_base))
            try:
                self.container.seek(offset, stream=self.stream, backward=True)
                sought = True
            except av.error.FFmpegError:
                log.warning("cannot seek in %s; decoding from the start", self.info.uri)
        errors = consecutive = 0
        fps = self.info.fps or 25.0
        time_base = Fraction(self.info.time_base)
        count = 0
        for packet in self.container.demux(self.stream):
            try:
                decoded = packet.decode()
                consecutive = 0
            except av.error.FFmpegError as error:
                errors += 1
                consecutive += 1
                if errors == 1:
                    log.warning(
                        "%s: a packet failed to decode (%s); skipping the frames that "
                        "cannot be decoded",
                        self.info.uri,
                        error,
                    )
                if consecutive >= MAX_CONSECUTIVE_ERRORS:
                    log.warning(
                        "%s: %d packets in a row failed; stopping here", self.info.uri, consecutive
                    )
                    break
                continue
            for av_frame in decoded:
                pts = av_frame.pts
                seconds = float((pts - zero) * time_base) if pts is not None else count / fps
                if sought and count == 0 and seconds > self.config.start + 1e-3:
                    # the seek overshot (MPEG-TS seeks by bytes): read from the start instead
                    yield from self._from_the_start()
                    return
                image = av_frame.to_ndarray(format="rgb24")
                if count == 0:  # the display matrix rides on frames in PyAV
                    self.info.display_rotation = int(round(av_frame.rotation or 0)) % 360
                count += 1
                yield Frame(index=count - 1, pts=pts, time=seconds, image=image)
        if sought and count == 0:
            yield from self._from_the_start()
        if errors:
            log.warning(
                "%s: %d packets could not be decoded; %d frames were", self.info.uri, errors, count
            )
        elif not sought and _short(count, self.announced):
            log.warning(
                "%s: the video ended after %d of the %d frames its header announces; the file "
                "looks truncated (all that could be read was processed)",
                self.info.uri,
                count,
                self.announced,
            )

    def _from_the_start(self) -> Iterator[Frame]:
        """Reopen the file and decode it all; frames before --start are dropped by _limit."""
        self.container.close()
        self.container = self._open()
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = self.thread_type
        yield from self._decode(seek=False)

    def close(self) -> None:
        self.container.close()


class ImageSource:
    """A folder of images (sorted by name), or an ffmpeg-style ``%05d`` pattern."""

    def __init__(self, spec: str, config: SourceConfig) -> None:
        self.config = config
        self.paths = _image_paths(spec)
        if not self.paths:
            raise SourceError(
                f"no images found at {spec}; give a folder of .jpg/.png files "
                "or a pattern like frames/%05d.jpg"
            )
        first = self._read(self.paths[0])
        if first is None:
            raise SourceError(f"cannot read the image {self.paths[0]}; is it an image file?")
        rate = Fraction(config.fps).limit_denominator(1001)
        self.info = SourceInfo(
            uri=spec,
            kind="images",
            width=first.shape[1],
            height=first.shape[0],
            rate=str(rate),
            time_base=str(1 / rate),
            frames=len(self.paths),
            duration=len(self.paths) / float(rate),
            rotation=0,
            has_audio=False,
        )

    @staticmethod
    def _read(path: Path) -> Any:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def frames(self) -> Iterator[Frame]:
        return _limit(self._decode(), self.config)

    def _decode(self) -> Iterator[Frame]:
        time_base = Fraction(self.info.time_base)
        for i, path in enumerate(self.paths):
            image = self._read(path)
            if image is None:
                log.warning("cannot read %s; skipping it", path)
                continue
            if image.shape[:2] != (self.info.height, self.info.width):
                raise SourceError(
                    f"{path} is {image.shape[1]}x{image.shape[0]}, the first image is "
                    f"{self.info.width}x{self.info.height}; all images must have one size"
                )
            yield Frame(index=i, pts=i, time=float(i * time_base), image=image)

    def close(self) -> None:
        pass


def _image_paths(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if path.suffix.lower() in IMAGE_SUFFIXES and "%" not in spec:
        return [path]
    # ffmpeg image2 pattern: like ffmpeg, the first number is 0..4, then consecutive.
    start = next((i for i in range(5) if os.path.exists(spec % i)), None)
    if start is None:
        return []
    paths = []
    i = start
    while os.path.exists(spec % i):
        paths.append(Path(spec % i))
        i += 1
    return paths
