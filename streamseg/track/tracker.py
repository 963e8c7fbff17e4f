"""The tracker: prompts and the previous frame's state -> every object's mask, per frame.

Engine-agnostic. Per object it keeps a small state that does not grow with the
video: the last mask, the engine's own logits and appearance model, the user's
points carried along, a box, the object's overall motion and remembered extent, and
a status. Each frame it computes the optical flow (current -> previous) once, turns
every object's last mask into a soft prior for this frame (streamseg/track/prior.py:
the mask carried by the flow, by the object's overall motion where the flow is
unreliable, with motion segmentation against leaks), builds one ObjectPrompt per
object and asks the engine for all objects in a single ``segment`` call.

An object whose mask vanishes is "hidden" (absent, its mask dropped so it cannot
stick to something else) while its remembered extent still says where it should be;
parts that come back there may be picked up again. After that it is "lost".

Re-acquisition: while an object is hidden or lost, and the engine offers ``locate``
(streamseg/engines/base.py, Locator), the frame is searched each frame for the
object's stored appearance, at a size compatible with its last known size. A
candidate found on ``reacquire_confirm`` consecutive frames near the same place
becomes a fresh prompt there (the object's last shape centred on it, a point, a box,
its appearance); the engine's answer is verified (score, area against the object's
last area) before the object counts as present again, with status "reacquired" for
that frame and "tracking" after. Nothing here grows with the video.

Prompts apply at their frame index (or at the first frame after it, as live
sources skip indices). A prompt for a new id adds an object; one for a known id
re-initialises it from that frame on; several for one id and frame are merged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from streamseg.engines.base import Engine, ObjectPrompt
from streamseg.errors import UsageError
from streamseg.flow import FlowEstimator, FlowField
from streamseg.track.confidence import frame_score, prior_iou
from streamseg.track.flow_ahead import FlowAhead, FlowReader
from streamseg.track.points import fix_points
from streamseg.track.prior import object_prior
from streamseg.track.prompted import PromptedTracks
from streamseg.track.reacquire import reacquire_prompt, search, store_reacquired
from streamseg.track.state import (
    CARRIED,
    HIDDEN,
    LOST,
    PENDING,
    REACQUIRED,
    REMOVED,
    TRACKING,
    VISIBLE,
    ObjectTrack,
    remember_shape,
)
from streamseg.track.tracker_config import TrackerConfig
from streamseg.types import Frame, FrameResult, Prompt, mask_box

log = logging.getLogger(__name__)

__all__ = [
    "CARRIED",
    "HIDDEN",
    "LOST",
    "PENDING",
    "REACQUIRED",
    "REMOVED",
    "TRACKING",
    "VISIBLE",
    "ObjectTrack",
    "Tracker",
    "TrackerConfig",
]


class Tracker(PromptedTracks):
    """Tracks every prompted object through a stream of frames with one engine."""

    def __init__(self, engine: Engine, config: TrackerConfig | None = None):
        self.engine = engine
        self.config = config or TrackerConfig()
        self._flow = self._estimator()
        self._reader: FlowReader | None = None
        self._starting = float("inf")  # the frame whose prompts are being applied
        super().__init__()
        self._tracks: dict[int, ObjectTrack] = {}
        self._prev_gray: np.ndarray | None = None
        self._prev_index: int | None = None

    def _estimator(self) -> FlowEstimator:
        c = self.config
        return FlowEstimator(c.flow_scale, c.flow_preset, c.flow_consistency, c.flow_max_side)

    def read_ahead(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """The frames, each one's flow estimated as it is read (in the reading thread,
        ahead of ``step``: streamseg/track/flow_ahead.py). For files, not live sources."""
        self._reader = FlowReader(self._estimator(), self._may_carry)
        return self._reader.frames(frames)

    def _may_carry(self, index: int) -> bool:
        """Whether an object may be carried into frame ``index``: one is carried now, is
        being started, or has a prompt for an earlier frame (asked from the reader)."""
        if any(t.status in CARRIED for t in list(self._tracks.values())):
            return True
        return self._starting < index or any(p.frame < index for p in list(self._pending))

    def _new_track(self, object_id: int, name: str | None) -> ObjectTrack:
        return ObjectTrack(object_id, name=name)

    def track(self, object_id: int) -> ObjectTrack:
        """The state of one object."""
        return self._tracks[object_id]

    def remove_object(self, object_id: int) -> None:
        """Stop tracking an object: its state and queued prompts are dropped and it is
        absent from now on, but its id stays in ``objects`` (N never shrinks). A later
        prompt for it starts it again."""
        if object_id not in self._tracks:
            raise UsageError(f"no object {object_id} to remove; known: {self.objects}")
        self._pending = [p for p in self._pending if p.object_id != object_id]
        old = self._tracks[object_id]
        self._tracks[object_id] = ObjectTrack(object_id, name=old.name, status=REMOVED)

    def step(self, frame: Frame, embedding: Any) -> FrameResult:
        """Every object's mask on ``frame``; ``embedding`` = engine.embed([frame.image])[0]."""
        if self._prev_index is not None and frame.index <= self._prev_index:
            raise UsageError(
                f"frame {frame.index} came after frame {self._prev_index}; "
                "frames must arrive in increasing index order"
            )
        h, w = frame.image.shape[:2]
        if any(p.frame <= frame.index for p in self._pending):
            # Until the objects prompted now are stored as tracked, the reader (asking
            # _may_carry from its thread) must know that they are being started.
            self._starting = frame.index
        due = self._due_prompts(frame.index)
        ahead = self._reader.take(frame) if self._reader is not None else None
        gray = ahead.gray if ahead is not None else self._flow.prepare(frame.image)
        flow = self._maybe_flow(gray, frame.size, due, ahead)

        ids, prompts, found = [], [], set()
        for oid, tr in self._tracks.items():
            if oid in due:
                prompts.append(self._init_prompt(tr, due[oid], (h, w)))
                ids.append(oid)
                continue
            if tr.status in (HIDDEN, LOST) and self._search(tr, embedding):
                prompts.append(reacquire_prompt(tr, (h, w)))
                ids.append(oid)
                found.add(oid)
                if flow is not None:
                    tr.points = flow.carry_points(tr.points)
            elif tr.status in CARRIED and flow is not None:
                prompts.append(self._carry(tr, flow))
                ids.append(oid)
        segs = self.engine.segment(embedding, prompts) if prompts else []
        if len(segs) != len(prompts):
            raise UsageError(
                f"engine {self.engine.name} gave {len(segs)} answers to {len(prompts)} prompts"
            )
        min_px = max(1, int(self.config.min_area * h * w))
        for oid, seg, prompt in zip(ids, segs, prompts):
            if oid in found:
                store_reacquired(self._tracks[oid], seg, min_px, self.config)
            else:
                prior = None if (oid in due or prompt.mask_given) else prompt.mask
                self._store(self._tracks[oid], seg, min_px, prior)
        # Objects not touched this frame (pending, lost, or no flow) are absent.
        for oid, tr in self._tracks.items():
            if oid not in ids and tr.status in CARRIED:
                tr.status, tr.mask, tr.shown, tr.extent = LOST, None, None, None
            if oid not in ids and tr.status == LOST:
                tr.hidden_for += 1

        self._prev_gray, self._prev_index = gray, frame.index
        self._starting = float("inf")
        return self._result(frame)

    # -- internals ---------------------------------------------------------------

    def _due_prompts(self, index: int) -> dict[int, list[Prompt]]:
        due: dict[int, list[Prompt]] = {}
        keep = []
        for p in self._pending:
            if p.frame <= index:
                due.setdefault(p.object_id, []).append(p)
            else:
                keep.append(p)
        self._pending = keep
        return due

    def _maybe_flow(
        self, gray: np.ndarray, size: tuple[int, int], due: dict, ahead: FlowAhead | None
    ) -> FlowField | None:
        """The flow into this frame, when some object needs carrying and a previous frame
        fits: the one estimated ahead if it was from that frame, else computed now."""
        carrying = any(t.status in CARRIED and oid not in due for oid, t in self._tracks.items())
        if not carrying or self._prev_gray is None or self._prev_gray.shape != gray.shape:
            return None
        if ahead is not None and ahead.flow is not None and ahead.previous == self._prev_index:
            return self._flow.field(ahead.flow, size)
        return self._flow.compute(gray, self._prev_gray, size)

    def _init_prompt(
        self, tr: ObjectTrack, prompts: list[Prompt], shape: tuple[int, int]
    ) -> ObjectPrompt:
        """Merge the prompts due for one object into a fresh start (state is reset)."""
        masks = [p.mask for p in prompts if p.mask is not None]
        for m in masks:
            if m.shape != shape:
                raise UsageError(
                    f"prompt mask for object {tr.object_id} has shape {m.shape}, frame is {shape}"
                )
        boxes = [p.box for p in prompts if p.box is not None]
        points = np.concatenate([p.points for p in prompts]).astype(np.float32)
        labels = np.concatenate([p.labels for p in prompts]).astype(np.int32)
        mask = np.logical_or.reduce(masks).astype(np.float32) if masks else None
        tr.points, tr.labels = points, labels
        tr.logits = tr.appearance = tr.extent = tr.motion = tr.template = tr.candidate = None
        tr.hidden_for, tr.peak_area, tr.hits, tr.confidence = 0, 0.0, 0, 1.0
        # A mask gives the whole object; clicks or a box may give part of it.
        tr.grow_left = 0 if masks else self.config.grow_frames
        return ObjectPrompt(
            points=points,
            labels=labels,
            box=boxes[-1] if boxes else None,
            mask=mask,
            mask_given=mask is not None,
        )

    def _carry(self, tr: ObjectTrack, flow: FlowField) -> ObjectPrompt:
        """The object's last mask carried into this frame as a soft prior, plus its points.

        Per pixel, the mask moves with the dense flow; where that flow is unreliable
        (occlusions, disocclusions, blur) it moves instead with the object's overall
        motion (a similarity fitted to the flow inside it). The object's extent, the
        place it occupies including hidden parts, moves with that overall motion too;
        where the object is expected but the flow says it is not visible, the prior is
        raised to nearly undecided, so the engine's own evidence can bring back parts
        uncovered by a passing occluder.
        """
        c = self.config
        motion: np.ndarray | None
        if tr.mask is None:
            # Out of sight: assume it stays where it went (behind something); running
            # on at its last velocity would soon put it anywhere.
            motion = np.eye(2, 3)
        else:
            motion = flow.object_motion(tr.mask)
            if motion is None:
                # Too little visible to fit: assume the last motion continues.
                motion = tr.motion if tr.motion is not None else np.eye(2, 3)
        tr.motion = motion
        if tr.extent is not None and c.extent_decay > 0:
            tr.extent = c.extent_decay * flow.warp_affine(tr.extent, motion)
        growing = tr.grow_left > 0 and tr.mask is not None
        prior = object_prior(flow, tr.mask, motion, tr.extent, c.prior, grow=growing)
        if growing:
            tr.grow_left -= 1
        tr.points = flow.carry_points(tr.points)
        box = mask_box(prior >= 0.5)
        # Out of sight, the carried points mark nothing: an engine told "here" would
        # find something there. It gets only the prior (where it may come back).
        visible = tr.mask is not None
        points, labels = tr.points, tr.labels
        if visible and len(points):
            # Points the forward-backward check flags are probably covered now.
            h, w = flow.unreliable.shape
            ix = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
            iy = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
            seen = flow.unreliable[iy, ix] <= c.point_unreliable
            points, labels = points[seen], labels[seen]
        return ObjectPrompt(
            points=points if visible else np.zeros((0, 2), np.float32),
            labels=labels if visible else np.zeros(0, np.int32),
            box=box if box[2] > box[0] else None,
            mask=prior,
            logits=tr.logits,
            # While it grows, its colours are learned afresh from each frame's mask.
            appearance=None if growing else tr.appearance,
        )

    def _search(self, tr: ObjectTrack, embedding: Any) -> bool:
        return search(self.engine, tr, embedding, self.config)

    def _store(
        self, tr: ObjectTrack, seg: Any, min_px: int, prior: np.ndarray | None = None
    ) -> None:
        mask = np.asarray(seg.mask, bool)
        c = self.config
        tr.logits = seg.logits
        if prior is None:  # a fresh start: the engine's score says how clearly it was found
            tr.start = tr.score = float(np.clip(seg.score, 0.0, 1.0))
            tr.confidence = 1.0
        else:
            jump = prior_iou(mask, prior)
            tr.confidence, score = frame_score(
                tr.confidence, float(seg.score), jump, c.score_rate, c.score_jump
            )
            # The engine's certainty of this frame alone lowers what is reported now,
            # not the running confidence that decides whether the object is lost.
            tr.score = tr.start * score * float(np.clip(seg.certainty, 0.0, 1.0))
        area = int(mask.sum())
        # An answer mostly away from where the object can be is something else.
        elsewhere = (
            prior is not None
            and area > 0
            and np.count_nonzero(mask & (prior >= 0.25)) < c.min_prior_overlap * area
        )
        # A sliver left of an object that was many times bigger a moment ago is more
        # likely a tracking error than the object: count it as out of sight too.
        unsure = prior is not None and tr.confidence < c.lost_score
        if elsewhere or unsure or area < max(min_px, c.min_area_ratio * tr.peak_area):
            # Not visible: drop the mask so nothing carries it onto something else, but
            # keep the extent a while, as the object may come out from behind something.
            # Its appearance stays that of the last time it was seen.
            if tr.appearance is None:
                tr.appearance = seg.appearance
            tr.mask, tr.shown, tr.box, tr.score = None, None, np.zeros(4, np.float32), 0.0
            tr.hidden_for += 1
            expected = tr.extent is not None and float(tr.extent.max()) >= 0.5
            if expected and tr.hidden_for <= c.max_hidden:
                tr.status = HIDDEN
            else:
                if tr.status != LOST:
                    log.info("object %s lost", tr.object_id)
                tr.status, tr.extent, tr.motion = LOST, None, None
            return
        tr.status, tr.mask, tr.box, tr.hidden_for = TRACKING, mask, mask_box(mask), 0
        tr.shown = seg.shown
        tr.appearance, tr.candidate, tr.hits = seg.appearance, None, 0
        if area >= 0.5 * tr.peak_area or tr.template is None:
            remember_shape(tr)  # its whole shape, not one cut by an occluder
        tr.peak_area = max(float(area), c.peak_decay * tr.peak_area)
        if c.extent_decay > 0:
            m = mask.astype(np.float32)
            tr.extent = m if tr.extent is None else np.maximum(tr.extent, m)
        tr.points, tr.labels = fix_points(mask, tr.points, tr.labels)

    def _result(self, frame: Frame) -> FrameResult:
        h, w = frame.image.shape[:2]
        n = len(self._tracks)
        masks = np.zeros((n, h, w), bool)
        scores = np.zeros(n, np.float32)
        boxes = np.zeros((n, 4), np.float32)
        present = np.zeros(n, bool)
        for i, tr in enumerate(self._tracks.values()):
            if tr.status in VISIBLE and tr.mask is not None:
                shown = tr.mask if tr.shown is None else tr.shown
                masks[i], scores[i], boxes[i], present[i] = shown, tr.score, tr.box, True
        return FrameResult(frame, list(self._tracks), masks, scores, boxes, present)
