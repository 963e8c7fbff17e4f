"""The wearer's gaze as prompts: ``--prompt gaze`` and ``--gaze-mode fixation``.

``GazePrompter`` turns gaze into point prompts frame by frame. ``GazePrompts`` is the
hook the session calls before each tracker step: it puts the gaze point on the frame
(stored in masks.zarr, drawn on the overlay) and, per the mode, asks the object
registry for new objects: "first" segments what the wearer looks at on the first
frame with valid gaze; "fixation" starts a new object at each fixation that does not
fall on an object already being tracked ("segment everything the wearer attends to").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from streamseg.choices import GAZE_MODES, GAZE_PROMPT_MODES
from streamseg.errors import UsageError
from streamseg.gaze.config import GazeConfig
from streamseg.gaze.fixations import FixationDetector
from streamseg.gaze.samples import GazeTrack
from streamseg.objects import ObjectRegistry
from streamseg.types import Frame, Prompt

log = logging.getLogger(__name__)


class GazePrompter:
    """Turns gaze into point prompts, frame by frame (for ``--prompt gaze``).

    mode: "first": one object, prompted at the first frame with a valid gaze;
    "fixation": a new object at the centre of each new fixation (``detector``);
    "every": one object re-prompted at the gaze on every frame that has one.
    new_id: gives the id of each new object (the run's ObjectRegistry.new_id).
    """

    def __init__(
        self,
        track: GazeTrack,
        mode: str = "first",
        detector: FixationDetector | None = None,
        new_id: Callable[[], int] | None = None,
    ) -> None:
        if mode not in GAZE_PROMPT_MODES:
            raise UsageError(f"gaze mode {mode!r} is unknown; give {', '.join(GAZE_PROMPT_MODES)}")
        self.track, self.mode = track, mode
        self.new_id = new_id or itertools.count(1).__next__
        self.detector = detector or FixationDetector(max_dispersion=2 * track.pixels_per_degree)
        self.done = False
        self._every_id: int | None = None

    def prompts_for(self, frame: Frame) -> list[Prompt]:
        """Prompts to add at ``frame`` (usually none); ``frame.index`` is their frame."""
        if self.done:
            return []
        xy, valid = self.track.gaze_at(frame)
        if self.mode == "fixation":
            fixation = self.detector.update(frame.time, xy, valid)
            if fixation is None:
                return []
            xy = fixation.center
        elif not valid:
            return []
        if self.mode == "every":
            self._every_id = self._every_id or self.new_id()
            object_id = self._every_id
        else:
            object_id = self.new_id()
        name = f"fixation {object_id}" if self.mode == "fixation" else "gaze"
        self.done = self.mode == "first"
        return [
            Prompt(object_id, frame.index, points=xy[None], labels=np.ones(1, np.int32), name=name)
        ]


class GazePrompts:
    """The per-frame hook: the gaze point on the frame, and the prompter's new objects.

    track: a GazeTrack; prompter: a GazePrompter, or None to only record the gaze;
    registry: the run's ObjectRegistry (records each gaze object and its prompt).
    """

    def __init__(self, track: GazeTrack, prompter: GazePrompter | None, registry: ObjectRegistry):
        self.track, self.prompter, self.registry = track, prompter, registry

    def __call__(self, frame: Frame, tracker: Any) -> None:
        xy, valid = self.track.gaze_at(frame)
        frame.gaze = np.asarray(xy, np.float32) if valid else None
        if self.prompter is None:
            return
        for prompt in self.prompter.prompts_for(frame):
            x, y = prompt.points[0]
            if self.prompter.mode == "fixation" and _covered(tracker, int(x), int(y)):
                continue
            log.info(
                "gaze: object %d at %.0f,%.0f on frame %d", prompt.object_id, x, y, frame.index
            )
            tracker.add_prompts(self.registry.register([prompt], "gaze"))


def _covered(tracker: Any, x: int, y: int) -> bool:
    """Whether (x, y) lies on the last mask of an object being tracked."""
    for object_id in tracker.objects:
        mask = tracker.track(object_id).mask
        if mask is not None and 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and mask[y, x]:
            return True
    return False


def gaze_hook(config: GazeConfig, source: Any, registry: ObjectRegistry) -> GazePrompts:
    """The hook for ``config`` (``--gaze``, ``--gaze-mode``); UsageError when the gaze
    cannot be had (no gaze file and no on-device gaze, a source without calibration)."""
    if config.mode not in GAZE_MODES:
        raise UsageError(f"gaze mode {config.mode!r} is unknown; use {', '.join(GAZE_MODES)}")
    path = config.path
    if not path:
        if not str(getattr(source, "device_version", "")).endswith("Gen2"):
            raise UsageError(
                "gaze prompts need --gaze PATH (MPS general_eye_gaze.csv), or a Gen2 "
                "recording with on-device gaze"
            )
        path = "device"
    track = GazeTrack(path, source, config.tolerance, config.depth)
    prompter = None
    if config.mode != "off":
        prompter = GazePrompter(track, config.mode, new_id=registry.new_id)
    return GazePrompts(track, prompter, registry)
