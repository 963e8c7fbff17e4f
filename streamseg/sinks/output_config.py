"""Settings of the outputs: what is written, and how."""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamseg.errors import UsageError

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)


@dataclass
class OutputConfig:
    """What is written, and how.

    overlay: write overlay.mp4. alpha: mask fill opacity in the overlay. crf,
    preset: libx264 quality and speed. audio: copy the source's audio.
    chunk_frames: frames per Zarr mask chunk (and per write). queue_size: results
    waiting for each sink before the model waits (bounds memory). video_out: where
    the overlay goes instead of OUT/overlay.mp4; "-" streams MPEG-TS to stdout.
    stall: seconds a video_out pipe ("-") may take nothing, once the run is ending,
    before it is given up on (its reader paused or went away).
    preview: "[HOST:]PORT" to serve the live preview page (None: no preview).
    wait: with the preview on a file and no prompt, hold the first frame until the
    first object is clicked (a live source never waits).
    flush_seconds: the masks are written at least this often (besides every chunk),
    so a killed run loses at most about this much.
    """

    overlay: bool = True
    alpha: float = 0.5
    crf: int = 20
    preset: str = "veryfast"
    audio: bool = True
    chunk_frames: int = 16
    queue_size: int = 16
    video_out: str | None = None
    stall: float = 10.0
    preview: str | None = None
    wait: bool = True
    flush_seconds: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the sizes and times (UsageError); also after ``--set`` edits."""
        for name in ("chunk_frames", "queue_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"output {name} {getattr(self, name)} is below 1")
        if not 0 <= self.crf <= 51:
            raise UsageError(f"output crf {self.crf} is not in 0..51 (libx264; lower is better)")
        if self.preset not in X264_PRESETS:
            raise UsageError(
                f"output preset {self.preset!r} is unknown; use one of {', '.join(X264_PRESETS)}"
            )
        if not (math.isfinite(self.flush_seconds) and self.flush_seconds > 0):
            raise UsageError(f"output flush_seconds {self.flush_seconds:g} must be above 0")
        if not math.isfinite(self.stall) or self.stall <= 0:
            raise UsageError(f"output stall {self.stall:g} must be above 0 (seconds)")
        if not 0.0 <= self.alpha <= 1.0:
            raise UsageError(f"output alpha {self.alpha:g} must be within [0, 1]")
