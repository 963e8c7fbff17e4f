"""What every frame source is: its settings, what is known before the first frame, the protocol.

A source has ``info`` (a SourceInfo), ``frames()`` (an iterator of Frame) and
``close()``, and is a context manager. Sources never drop frames; they warn about
frames that fail to decode and go on with the rest. ``limit_frames`` applies
``--start`` and ``--max-frames`` the same way for every kind of source.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, Protocol

from streamseg.errors import SourceError, UsageError
from streamseg.types import Frame

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
MIN_FPS, MAX_FPS = 0.01, 1000.0  # image folders: a frame every 100 s .. 1000 a second
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


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
        if not math.isfinite(self.start) or self.start < 0:
            raise UsageError(f"--start {self.start:g}: give seconds from the start (0 or more)")
        if not (math.isfinite(self.fps) and MIN_FPS <= self.fps <= MAX_FPS):
            raise UsageError(f"--fps {self.fps:g}: give a frame rate in {MIN_FPS:g}..{MAX_FPS:g}")
        for name in ("queue_size", "live_queue"):
            if getattr(self, name) < 1:
                raise UsageError(f"source {name} {getattr(self, name)} is below 1")
        if self.reconnect_tries < 0:
            raise UsageError(f"source reconnect_tries {self.reconnect_tries} is negative")


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
    device_clock: pts count a device's clock (Aria: ns since boot), not media time
    from 0; the videos written start at 0.
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
    device_clock: bool = False

    @property
    def fps(self) -> float | None:
        return float(Fraction(self.rate)) if self.rate else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": self.fps}


class Source(Protocol):
    info: SourceInfo

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...


class SourceBase:
    """Context-manager behaviour shared by the sources: ``with open_source(...) as src``."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def limit_frames(frames: Iterator[Frame], config: SourceConfig) -> Iterator[Frame]:
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
