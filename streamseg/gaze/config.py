"""Settings of the gaze stage."""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamseg.choices import GAZE_MODES
from streamseg.errors import UsageError


@dataclass
class GazeConfig:
    """The wearer's eye gaze (Aria recordings).

    path: MPS general_eye_gaze.csv / personalized_eye_gaze.csv (or their folder),
    or "device" for a Gen2 recording's on-device gaze; None: no gaze. mode: "off"
    (only record it), "first" (segment what is looked at on the first frame with
    valid gaze; --prompt gaze), "fixation" (a new object at each fixation on
    something not yet tracked). tolerance: seconds between a frame and its nearest
    gaze sample. depth: metres along the gaze ray when a sample has no depth.
    """

    path: str | None = None
    mode: str = "off"
    tolerance: float = 0.02
    depth: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        if self.mode not in GAZE_MODES:
            raise UsageError(f"gaze mode {self.mode!r} is unknown; use {', '.join(GAZE_MODES)}")
        if not math.isfinite(self.tolerance) or self.tolerance < 0:
            raise UsageError(f"gaze tolerance {self.tolerance!r} must be 0 or more seconds")
        if not math.isfinite(self.depth) or self.depth <= 0:
            raise UsageError(f"gaze depth {self.depth!r} must be above 0 (metres)")
