"""Settings of the classic engine (streamseg/engines/classic.py): the ``classic``
section of the config file and of ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamseg.checks import check_numbers
from streamseg.engines.classic_init import InitConfig
from streamseg.errors import UsageError


@dataclass
class ClassicConfig:
    """Settings of the classic engine (all sizes in pixels of the full frame unless said).

    work_size: long side, in pixels, of the crop the refinement works on (speed).
    margin: crop margin around the carried mask, as a fraction of its larger side.
    min_margin: the smallest crop margin, in full-resolution pixels.
    prior_clip: largest logit taken from the tracker's prior.
    colour_weight: the largest weight of the colour log-likelihood ratio.
    colour_clip: the largest colour log-likelihood ratio.
    fg_rate, bg_rate: per-frame update rates of the object / background histograms.
    anchor: share of the first frame's object histogram kept in the object model.
    guide_radius, guide_eps: guided filter radius (work pixels) and regulariser.
    guide_colour: the guided filter's guide is the colour image, not its grey
        (streamseg/engines/guided_filter.py).
    guide_subsample: the colour guided filter fits its local models on a grid this
        many times coarser (speed; the edges stay at full detail).
    max_growth, max_shrink: area ratio vs the prior beyond which the result is pulled
        back to the prior.
    support: prior value from which a pixel may be the object (crop, kept parts).
    min_keep: a connected part is kept when this share of it lies on the prior.
    reappear_evidence, reappear_area: an object that was out of sight comes back only
        where this share of its pixels has the object's colours, and at least this
        share of the area where it was expected.
    init_snap: blur (pixels) of the GrabCut mask before it is snapped to the edges at
        full detail like a tracked prior; 0 keeps GrabCut's mask.
    hidden_evidence, hidden_distinct: the object counts as hidden (an empty mask) when
        less than this share of the carried prior's core has the object's colours,
        provided its colour model tells object from background at least this well
        (1 - the Bhattacharyya coefficient of the two histograms).
    locate_size: long side, in pixels, of the whole frame when searching it for a lost
        object (``locate``).
    locate_llr: the smallest mean colour log-likelihood ratio of a found blob.
    locate_area: (smallest, largest) area of a found blob, as a multiple of the
        object's expected area.
    local_weight, local_radius, local_clip: weight, window half-size (work pixels) and
        largest value of the local colour evidence along the boundary
        (streamseg/engines/classic_local.py); weight 0 turns it off.
    fit_power: a tracked answer's score is multiplied by how well its colours fit the
        object's first-frame colours, to this power; 0: off
        (streamseg/engines/classic_score.py).
    certainty_power: a tracked answer's certainty (``Segmentation.certainty``) is how
        decided its posterior is, to this power: it lowers this frame's reported score,
        not the track's confidence, so masks do not change; 0: off. DAVIS dev set,
        Spearman(score, IoU) mask / 1 / 3 / 5 clicks 0.715 / 0.489 / 0.584 / 0.478 ->
        0.725 / 0.550 / 0.634 / 0.566 (benchmarks).
    fill_holes: holes smaller than this share of the object's area are filled in the
        mask shown (``Segmentation.shown``), not in the one carried to the next frame
        (streamseg/engines/classic_parts.py); 0: none.
    bg_gap: the background histogram is learned from the crop outside a band around
        the mask this share of the object's size (the square root of its area) wide:
        a part of the object the mask missed lies just outside it, and learned as
        background it would be pushed out again frame after frame; 0: a 2-pixel band.
        DAVIS dev set, 0 -> 0.1: J&F mask 0.685 -> 0.690, 1 / 3 / 5 clicks 0.544 /
        0.580 / 0.588 -> 0.547 / 0.600 / 0.594; held out 0.608 vs 0.599 (benchmarks).
    init: settings of the first-frame segmentation from clicks or a box.
    """

    work_size: int = 640
    margin: float = 0.25
    min_margin: int = 24
    prior_clip: float = 6.0
    colour_weight: float = 1.0
    colour_clip: float = 4.0
    fg_rate: float = 0.1
    bg_rate: float = 0.5
    anchor: float = 0.5
    guide_radius: int = 4
    guide_eps: float = 1e-3
    guide_colour: bool = True
    guide_subsample: int = 2
    max_growth: float = 1.6
    max_shrink: float = 0.6
    support: float = 0.25
    min_keep: float = 0.5
    reappear_evidence: float = 0.8
    reappear_area: float = 0.1
    init_snap: float = 3.0
    hidden_evidence: float = 0.2
    hidden_distinct: float = 0.5
    locate_size: int = 160
    locate_llr: float = 1.0
    locate_area: tuple[float, float] = (0.3, 3.0)
    local_weight: float = 0.5
    local_radius: int = 12
    local_clip: float = 3.0
    fit_power: float = 1.0
    certainty_power: float = 4.0
    fill_holes: float = 0.3
    bg_gap: float = 0.1
    init: InitConfig = field(default_factory=InitConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        check_numbers(self, "classic", signed=())
        if self.work_size < 16 or self.locate_size < 16:
            raise UsageError("classic.work_size and classic.locate_size must be 16 or more")
        if self.bg_gap >= self.margin:
            raise UsageError(
                f"classic.bg_gap is {self.bg_gap}; give less than classic.margin "
                f"({self.margin}): a wider band leaves no background in the crop"
            )
        if self.guide_subsample < 1:
            raise UsageError(
                f"classic.guide_subsample is {self.guide_subsample}; give 1 (fit at full "
                "resolution) or more"
            )
