"""Settings of the video engines (``video.*``), readable without torch or transformers."""

from __future__ import annotations

from dataclasses import dataclass

from streamseg.choices import VIDEO_BINARIZE
from streamseg.errors import UsageError


@dataclass
class VideoSettings:
    """Settings of the video engines.

    batch_size: frames per vision-encoder call (0: 8 on CUDA, 1 on the CPU).
    max_conditioning_frames: prompted frames kept per object (the first and the newest
        ones); >= 2. The library keeps every one, so its memory grows with prompts.
    memory_binarize: "object": an object's new memory uses its binarized mask only on
        a frame where that object was prompted (as Meta's SAM 2 does); "frame": on a
        frame where any object was prompted, every object's memory is binarized (what
        transformers' Sam2VideoModel.forward does, batching the memory encoder).
    seed: for random weights (speed measurements and tests).
    """

    batch_size: int = 0
    max_conditioning_frames: int = 8
    memory_binarize: str = "object"
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        if self.batch_size < 0:
            raise UsageError(f"--batch-size {self.batch_size}: give 1 or more (0: the default)")
        if self.max_conditioning_frames < 2:
            raise UsageError(
                f"max_conditioning_frames {self.max_conditioning_frames}: give 2 or more "
                "(the first prompted frame and the newest are always kept)"
            )
        if self.memory_binarize not in VIDEO_BINARIZE:
            raise UsageError(
                f"memory_binarize {self.memory_binarize!r}: choose 'object' or 'frame'"
            )
