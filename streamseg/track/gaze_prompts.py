"""The wearer's gaze as prompts: ``--prompt gaze`` and ``--gaze-mode fixation``.

A hook the pipeline calls before each tracker step: it puts the gaze point on the
frame (stored in masks.zarr, drawn on the overlay) and, per the mode, adds
prompts: "first" segments what the wearer looks at on the first frame with valid
gaze; "fixation" starts a new object at each fixation that does not fall on an
object already being tracked ("segment everything the wearer attends to").
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from streamseg.types import Frame

log = logging.getLogger(__name__)


class GazePrompts:
    """track: a streamseg.io.gaze.GazeTrack; prompter: a GazePrompter, or None to
    only record the gaze; objects: the job's object metadata (id -> dict), updated."""

    def __init__(self, track: Any, prompter: Any, objects: dict[int, dict[str, Any]]):
        self.track, self.prompter, self.objects = track, prompter, objects

    def __call__(self, frame: Frame, tracker: Any) -> None:
        xy, valid = self.track.gaze_at(frame)
        frame.gaze = np.asarray(xy, np.float32) if valid else None
        if self.prompter is None:
            return
        for prompt in self.prompter.prompts_for(frame):
            x, y = prompt.points[0]
            if self.prompter.mode == "fixation" and self._covered(tracker, int(x), int(y)):
                continue
            log.info(
                "gaze: object %d at %.0f,%.0f on frame %d", prompt.object_id, x, y, frame.index
            )
            self.objects[prompt.object_id] = {
                "name": prompt.name,
                "prompts": [{**prompt.describe(), "via": "gaze"}],
            }
            tracker.add_prompts([prompt])

    @staticmethod
    def _covered(tracker: Any, x: int, y: int) -> bool:
        """Whether (x, y) lies on the last mask of an object being tracked."""
        for object_id in tracker.objects:
            mask = tracker.track(object_id).mask
            if (
                mask is not None
                and 0 <= y < mask.shape[0]
                and 0 <= x < mask.shape[1]
                and mask[y, x]
            ):
                return True
        return False
