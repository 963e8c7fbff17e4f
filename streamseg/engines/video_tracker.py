"""Streaming tracking with a video model's memory, bounded in the video's length.

``VideoTracker`` is what a video engine's ``create_tracker`` returns; it has the
interface of streamseg/track/tracker.py's Tracker (add_prompts, remove_object,
objects, track, step). Frames come in one at a time, with their embedding from
``engine.embed``; per frame it runs memory attention, mask decoder and memory encoder
for all objects together (streamseg/engines/video_step.py).

Per object it keeps the library's own per-object layout (``cond_frame_outputs`` and
``non_cond_frame_outputs``, frame index -> object pointer, object-score logit,
memory features and their position encodings), but only what the model can still
attend to:
- the prompted ("conditioning") frames, at most ``max_conditioning_frames``: the first
  and the newest ones (the library keeps all of them, and attends to all of them);
- memory features of the last ``num_maskmem - 1`` tracked frames (the spatial memory
  the model reads, beside the conditioning frames);
- object pointers of the last ``max_object_pointers_in_encoder - 1`` tracked frames;
- nothing of the frames themselves (the library keeps every decoded frame, its
  1024x1024 mask logits per object and frame, and every memory).

Until an object has more conditioning frames than the cap, the masks are those of
the library's whole-video inference on the same frames and prompts.

A prompt for a new id adds an object; one for a known id adds a conditioning frame
(its memory is kept); prompts apply at their frame index, or at the first frame
after it (live sources skip indices). An object the model scores as absent (its
object-score logit <= 0) is ``present`` False with status "hidden", and "tracking"
again once the model finds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamseg.engines import video_step as vs
from streamseg.errors import UsageError
from streamseg.track.prompted import PromptedTracks
from streamseg.types import Frame, FrameResult, Prompt, mask_box

log = logging.getLogger(__name__)

PENDING, TRACKING, HIDDEN, REMOVED = "pending", "tracking", "hidden", "removed"


def _empty_memory() -> dict[str, dict[int, dict[str, Any]]]:
    return {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}


@dataclass
class VideoTrack:
    """One object.

    status: "pending" (prompt not applied yet), "tracking", "hidden" (scored absent on
    the last frame) or "removed". mask: (H, W) bool of the last frame, or None.
    score: sigmoid of the object-score logit of the last frame. logits: (1, 1, h, w)
    float low-resolution mask logits of the last frame (the library's pred_masks).
    memory: the model's retained state for this object (see the module docstring).
    """

    object_id: int
    name: str | None = None
    status: str = PENDING
    mask: np.ndarray | None = None
    score: float = 0.0
    logits: Any = None
    memory: dict[str, dict[int, dict[str, Any]]] = field(default_factory=_empty_memory)


class VideoTracker(PromptedTracks):
    """Streaming tracker on a VideoEngine (see the module docstring)."""

    def __init__(self, engine: Any, settings: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.model = engine.model
        cfg = self.model.config
        self.num_maskmem = int(cfg.num_maskmem)
        self.max_pointers = int(cfg.max_object_pointers_in_encoder)
        super().__init__()
        self._tracks: dict[int, VideoTrack] = {}
        self._prev_index: int | None = None

    # -- the Tracker interface --------------------------------------------------------

    def _new_track(self, object_id: int, name: str | None) -> VideoTrack:
        return VideoTrack(object_id, name=name)

    def _reprompted(self, track: VideoTrack) -> None:
        if track.status == REMOVED:
            track.status = PENDING  # starts afresh at its frame

    def track(self, object_id: int) -> VideoTrack:
        """The state of one object."""
        return self._tracks[object_id]

    def remove_object(self, object_id: int) -> None:
        """Stop tracking an object: its memory and queued prompts are dropped; its id
        stays in ``objects``. A later prompt for it starts it afresh."""
        if object_id not in self._tracks:
            raise UsageError(f"no object {object_id} to remove; known: {self.objects}")
        self._pending = [p for p in self._pending if p.object_id != object_id]
        old = self._tracks[object_id]
        self._tracks[object_id] = VideoTrack(object_id, name=old.name, status=REMOVED)

    def step(self, frame: Frame, embedding: Any) -> FrameResult:
        """Every object's mask on ``frame``; ``embedding`` = engine.embed([frame.image])[0]."""
        import torch

        f = frame.index
        if self._prev_index is not None and f <= self._prev_index:
            raise UsageError(
                f"frame {f} came after frame {self._prev_index}; "
                "frames must arrive in increasing index order"
            )
        h, w = frame.image.shape[:2]
        if tuple(embedding.size) != (h, w):
            raise UsageError(f"embedding of a {embedding.size} frame given for a {(h, w)} frame")
        inputs = {
            oid: self._encode_prompts(ps, f, (h, w)) for oid, ps in self._due_prompts(f).items()
        }
        active = [
            oid
            for oid, t in self._tracks.items()
            if oid in inputs or t.status in (TRACKING, HIDDEN)
        ]
        if active:
            with torch.inference_mode():
                self._run(f, embedding, active, inputs, (h, w))
        self._prev_index = f
        return self._result(frame, set(active))

    # -- diagnostics ------------------------------------------------------------------

    def retained(self) -> tuple[int, int]:
        """(number of tensors, bytes of their storage) the tracker keeps between frames,
        counting each storage once: the whole state that carries over to the next frame."""
        import torch

        seen: dict[int, int] = {}
        count = 0

        def visit(value: Any) -> None:
            nonlocal count
            if isinstance(value, torch.Tensor):
                count += 1
                storage = value.untyped_storage()
                seen[storage.data_ptr()] = storage.nbytes()
            elif isinstance(value, dict):
                for v in value.values():
                    visit(v)
            elif isinstance(value, (list, tuple)):
                for v in value:
                    visit(v)

        for t in self._tracks.values():
            visit(t.memory)
            visit(t.logits)
        return count, sum(seen.values())

    # -- internals --------------------------------------------------------------------

    def _due_prompts(self, index: int) -> dict[int, list[Prompt]]:
        due: dict[int, list[Prompt]] = {}
        keep: list[Prompt] = []
        for p in self._pending:
            (due.setdefault(p.object_id, []) if p.frame <= index else keep).append(p)
        self._pending = keep
        return due

    def _encode_prompts(
        self, prompts: list[Prompt], frame_idx: int, size: tuple[int, int]
    ) -> tuple[str, Any]:
        """One object's prompts on one frame, prepared by the library's processor:
        ("mask", (1, 1, S, S) float) or ("points", {"point_coords", "point_labels"}).
        Several prompts merge (points concatenated, the last box, the last mask; a mask
        wins over points, as the library takes one or the other)."""
        proc = self.engine.processor
        session = proc.init_video_session(
            inference_device=self.engine.device, dtype=self.engine.dtype
        )
        masks = [p.mask for p in prompts if p.mask is not None]
        if masks:
            if masks[-1].shape != size:
                raise UsageError(
                    f"prompt mask for object {prompts[0].object_id} is {masks[-1].shape}, "
                    f"the frame {size}; give a mask of the frame's size"
                )
            proc.add_inputs_to_inference_session(
                session, frame_idx=frame_idx, obj_ids=[0], input_masks=masks[-1]
            )
            return "mask", session.mask_inputs_per_obj[0][frame_idx]
        points = np.concatenate([p.points for p in prompts])
        labels = np.concatenate([p.labels for p in prompts])
        boxes = [p.box for p in prompts if p.box is not None]
        kwargs: dict[str, Any] = {}
        if len(points):
            kwargs["input_points"] = [[points.tolist()]]
            kwargs["input_labels"] = [[labels.tolist()]]
        if boxes:
            kwargs["input_boxes"] = [[boxes[-1].tolist()]]
        proc.add_inputs_to_inference_session(
            session, frame_idx=frame_idx, obj_ids=[0], original_size=size, **kwargs
        )
        return "points", session.point_inputs_per_obj[0][frame_idx]

    def _run(
        self, f: int, emb: Any, active: list[int], inputs: dict, size: tuple[int, int]
    ) -> None:
        """Memory attention, mask decoder and memory encoder for the active objects."""
        import torch

        model, family, dtype = self.model, self.engine.family, self.engine.dtype
        sizes = model.backbone_feature_sizes
        top, top_pos = emb.feats[-1], emb.pos[-1]
        grid = tuple(sizes[-1])
        high_res = [
            x.permute(1, 2, 0).reshape(1, x.size(2), *s) for x, s in zip(emb.feats[:-1], sizes[:-1])
        ]
        decoded: dict[int, vs.Decoded] = {}
        pix: dict[int, Any] = {}
        # Memory attention, one call per memory layout.
        layouts: dict[tuple, list[tuple[int, tuple]]] = {}
        for oid in active:
            kind, value = inputs.get(oid, (None, None))
            if kind == "mask":
                decoded[oid] = vs.mask_as_output(model, top, high_res, value, grid)
            elif kind == "points":
                pix[oid] = vs.no_memory(model, top, grid)
            else:
                mem = vs.memory_inputs(model, self._tracks[oid].memory, f, dtype, top.device)
                layouts.setdefault((mem[0].shape[0], mem[2], mem[3]), []).append((oid, mem))
        for members in layouts.values():
            out = vs.condition(model, family, top, top_pos, [m for _, m in members], grid)
            for i, (oid, _) in enumerate(members):
                pix[oid] = out[i : i + 1]
        # Prompt encoder + mask decoder, one call per prompt layout.
        groups: dict[tuple, list[int]] = {}
        for oid in pix:
            kind, value = inputs.get(oid, (None, None))
            n = 0 if value is None else int(value["point_labels"].shape[2])
            multimask = model._use_multimask(kind is not None, value)
            groups.setdefault((n, multimask), []).append(oid)
        for (n, multimask), ids in groups.items():
            points = labels = None
            if n:
                points = torch.cat([inputs[o][1]["point_coords"] for o in ids]).to(dtype)
                labels = torch.cat([inputs[o][1]["point_labels"] for o in ids])
            pix_b = torch.cat([pix[o] for o in ids])
            d = vs.decode(model, pix_b, high_res, points, labels, multimask)
            for i, oid in enumerate(ids):
                decoded[oid] = vs.Decoded(
                    d.low[i : i + 1], d.high[i : i + 1], d.pointer[i : i + 1], d.score[i : i + 1]
                )
        # Memory encoder, one call per binarization (see VideoSettings.memory_binarize).
        prompted = {oid: oid in inputs for oid in active}
        if self.settings.memory_binarize == "frame" and family != "edgetam":
            prompted = dict.fromkeys(active, any(prompted.values()))
        for flag in (False, True):
            ids = [o for o in active if prompted[o] == flag]
            if not ids:
                continue
            high = torch.cat([decoded[o].high for o in ids])
            score = torch.cat([decoded[o].score for o in ids])
            for oid, (feat, pos) in zip(
                ids, vs.encode_memory(model, family, top, high, score, flag)
            ):
                d = decoded[oid]
                key = "cond_frame_outputs" if oid in inputs else "non_cond_frame_outputs"
                self._tracks[oid].memory[key][f] = {
                    "object_pointer": d.pointer.clone(),
                    "object_score_logits": d.score.clone(),
                    "maskmem_features": feat,
                    "maskmem_pos_enc": pos,
                }
        self._masks(active, decoded, size)
        for oid in active:
            self._prune(self._tracks[oid].memory, f)

    def _masks(self, active: list[int], decoded: dict, size: tuple[int, int]) -> None:
        """Frame-size masks of the active objects, as the library's post_process_masks."""
        import torch

        low = torch.cat([decoded[o].low for o in active]).float()
        full = self.engine.processor.post_process_masks(
            [low], original_sizes=[list(size)], binarize=False
        )[0]
        masks = (full[:, 0] > 0).cpu().numpy()
        scores = torch.cat([decoded[o].score.reshape(1) for o in active]).float()
        for i, oid in enumerate(active):
            t = self._tracks[oid]
            logit = float(scores[i])
            t.logits = decoded[oid].low.clone()
            t.score = float(torch.sigmoid(scores[i]))
            t.status = TRACKING if logit > 0 else HIDDEN
            t.mask = masks[i] if logit > 0 else None

    def _prune(self, memory: dict, f: int) -> None:
        """Drop what no later frame (index > f) can attend to (module docstring)."""
        non_cond = memory["non_cond_frame_outputs"]
        keep_pointer = f + 1 - (self.max_pointers - 1)  # pointers of frames >= this
        keep_memory = f + 1 - (self.num_maskmem - 1)  # memory features of frames >= this
        for idx in list(non_cond):
            if idx < keep_pointer:
                del non_cond[idx]
            elif idx < keep_memory:
                non_cond[idx].pop("maskmem_features", None)
                non_cond[idx].pop("maskmem_pos_enc", None)
        cond = memory["cond_frame_outputs"]
        cap = self.settings.max_conditioning_frames
        while len(cond) > cap:
            ordered = sorted(cond)
            del cond[ordered[1]]  # keep the first and the newest

    def _result(self, frame: Frame, active: set[int]) -> FrameResult:
        h, w = frame.image.shape[:2]
        ids = self.objects
        masks = np.zeros((len(ids), h, w), bool)
        scores = np.zeros(len(ids), np.float32)
        boxes = np.zeros((len(ids), 4), np.float32)
        present = np.zeros(len(ids), bool)
        for i, oid in enumerate(ids):
            t = self._tracks[oid]
            if oid not in active:
                continue
            scores[i] = t.score
            if t.status == TRACKING and t.mask is not None:
                masks[i] = t.mask
                boxes[i] = mask_box(t.mask)
                present[i] = True
        return FrameResult(frame, ids, masks, scores, boxes, present)
