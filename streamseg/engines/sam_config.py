"""Settings of the SAM engine (kept apart from sam.py so reading them needs no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamseg.choices import SAM_MASK_PROMPTS
from streamseg.errors import UsageError


@dataclass
class SamConfig:
    """Settings of the SAM engine beyond ModelConfig's name/device/checkpoint/dtype.

    mask_prompt: what SAM gets as its mask prompt on tracked frames: "logits" (its
        own low-res logits from the previous frame), "prior" (the tracker's
        flow-carried mask, as logits) or "none".
    mask_logit: size of the logits a 0/1 mask is turned into (a given mask, or the
        prior with mask_prompt="prior"): +mask_logit inside, -mask_logit outside.
    multimask: decode ambiguous prompts (one point, nothing else) into SAM's three
        candidates and choose one; False always takes SAM's single-mask output.
    side_stream: on CUDA, encode on a separate stream (overlaps the decoder).
    seed: seed of random weights (``random_weights`` builds).
    locate_similarity: the smallest cosine similarity between an object's prototype
        and an embedding cell for ``locate`` to report the object there.
    """

    mask_prompt: str = "logits"
    mask_logit: float = 10.0
    multimask: bool = True
    side_stream: bool = True
    seed: int = 0
    locate_similarity: float = 0.7

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        if self.mask_prompt not in SAM_MASK_PROMPTS:
            raise UsageError(
                f"sam mask_prompt {self.mask_prompt!r} is unknown; choose one of "
                f"{', '.join(SAM_MASK_PROMPTS)}"
            )
        if not math.isfinite(self.mask_logit) or self.mask_logit <= 0:
            raise UsageError(f"sam mask_logit {self.mask_logit!r} must be above 0")
        if not -1.0 <= self.locate_similarity <= 1.0:
            raise UsageError(
                f"sam locate_similarity {self.locate_similarity!r} must be within [-1, 1]"
            )
