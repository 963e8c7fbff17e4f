"""Settings of the tracker (track/tracker.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamseg.checks import check_numbers, check_range
from streamseg.choices import FLOW_PRESETS
from streamseg.errors import UsageError
from streamseg.track.prior import PriorConfig


@dataclass
class TrackerConfig:
    """Settings of the tracker.

    flow_scale: resolution of the optical flow, as a fraction of the frame's.
    flow_max_side: the flow image's longest side, in pixels, at most (so HD input costs
        no more than SD).
    flow_preset: DIS preset, "ultrafast", "fast" or "medium".
    flow_consistency: also compute forward flow, to flag occlusions (forward-backward
        check) and to carry points exactly.
    prior: how the last mask, the motion and the extent make the next frame's prior.
    extent_decay: per-frame decay of the remembered extent of an object (where it is,
        hidden parts included); 0 turns the extent off.
    max_hidden: frames an object that is out of sight is still looked for.
    min_area: fewest pixels, as a fraction of the frame, for an object to count as
        present; below it the object is hidden (or lost) and its mask dropped.
    min_area_ratio: likewise, as a fraction of the object's recent peak area.
    peak_decay: per-frame decay of that peak (so a shrinking object can shrink).
    reacquire: search for hidden or lost objects by their appearance (engine.locate).
    reacquire_confirm: consecutive frames a candidate must be found on before it is tried.
    reacquire_distance: how far apart (in units of the object's size, the square root
        of its area) two consecutive candidates may be and still confirm each other.
    reacquire_score: the engine's smallest score for a re-acquired mask.
    reacquire_area: (smallest, largest) area of a re-acquired mask, as a multiple of
        the object's last known area.
    max_lost: frames a lost object is still searched for (None: as long as it runs).
    min_prior_overlap: the smallest share of a tracked answer that must lie where the
        prior allowed the object (prior >= 0.25); less and the answer is something
        else (the object is out of sight).
    point_unreliable: a carried point is not handed to the engine on a frame where the
        flow's unreliability (forward-backward check) at it exceeds this (occluded).
    grow_frames: after a start from clicks or a box, on how many frames pixels moving
        like the object (and unlike the background) may extend its mask (the whole
        object from a click on part of it; streamseg/track/prior.py).
    score_rate: weight of each frame's engine score in the track's running confidence
        (streamseg/track/confidence.py).
    score_jump: IoU with the motion-carried prior below which a frame's score is
        scaled down in proportion (a jump to another region); 0 turns it off.
    lost_score: a score below this marks the object out of sight (0: never).
    """

    flow_scale: float = 0.5
    flow_max_side: int = 480
    flow_preset: str = "medium"
    flow_consistency: bool = True
    prior: PriorConfig = field(default_factory=PriorConfig)
    extent_decay: float = 0.97
    max_hidden: int = 30
    min_area: float = 2e-5
    min_area_ratio: float = 0.02
    peak_decay: float = 0.95
    reacquire: bool = True
    reacquire_confirm: int = 2
    reacquire_distance: float = 0.5
    reacquire_score: float = 0.6
    reacquire_area: tuple[float, float] = (0.3, 3.0)
    max_lost: int | None = None
    min_prior_overlap: float = 0.5
    point_unreliable: float = 0.5
    grow_frames: int = 0
    score_rate: float = 0.1
    score_jump: float = 0.8
    lost_score: float = 0.05

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        check_numbers(self, "tracker", signed=())
        check_range(self.flow_scale, 1e-3, 1.0, "tracker.flow_scale")
        if self.flow_preset not in FLOW_PRESETS:
            raise UsageError(
                f"tracker.flow_preset {self.flow_preset!r} is unknown; use one of "
                f"{', '.join(FLOW_PRESETS)}"
            )
        if self.flow_max_side < 16:
            raise UsageError(f"tracker.flow_max_side is {self.flow_max_side}; give 16 or more")
