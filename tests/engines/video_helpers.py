"""Shared pieces of the video-engine tests: a small synthetic clip and the library's own
whole-video inference on it (init_video_session(video=...) + propagate_in_video_iterator)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from streamseg.types import Frame, Prompt

H, W = 96, 128


def clip(n: int, seed: int = 0) -> list[np.ndarray]:
    """n (H, W, 3) uint8 frames: three discs moving over a noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    frames = []
    for t in range(n):
        im = np.full((H, W, 3), 40, np.uint8)
        for k, (cx, cy) in enumerate([(30 + t, 40), (95 - t, 55), (64, 20 + t // 2)]):
            im[(xx - cx) ** 2 + (yy - cy) ** 2 < 12**2] = (200, 80 + 60 * k, 50)
        frames.append(np.clip(im + rng.integers(0, 20, im.shape), 0, 255).astype(np.uint8))
    return frames


def library_run(engine: Any, frames: list[np.ndarray], schedule: list[tuple]) -> dict[int, Any]:
    """The library's whole-video inference. schedule: (frame, object ids, points per
    object, labels per object), in frame order; the video is propagated up to each
    prompted frame, the prompt added there, and on. Returns frame -> (ids, pred_masks
    (N, 1, h, w), object-score logits (N,))."""
    import torch

    model, proc = engine.model, engine.processor
    session = proc.init_video_session(video=frames, inference_device="cpu", dtype=torch.float32)
    out: dict[int, Any] = {}
    starts = [s[0] for s in schedule] + [len(frames)]
    for (start, ids, points, labels), end in zip(schedule, starts[1:]):
        # Copies: the library keeps obj_ids as its to-do list and empties it in place.
        proc.add_inputs_to_inference_session(
            session,
            frame_idx=start,
            obj_ids=list(ids),
            input_points=copy.deepcopy([points]),
            input_labels=copy.deepcopy([labels]),
            original_size=(H, W),
        )
        for o in model.propagate_in_video_iterator(
            session, start_frame_idx=start, max_frame_num_to_track=end - start - 1
        ):
            out[o.frame_idx] = (list(o.object_ids), o.pred_masks.clone(), o.object_score_logits)
    return out


def prompts_of(schedule: list[tuple]) -> list[Prompt]:
    """The same schedule as streamseg Prompts."""
    return [
        Prompt(oid, frame=start, points=np.array(p, np.float32), labels=np.array(lab))
        for start, ids, points, labels in schedule
        for oid, p, lab in zip(ids, points, labels)
    ]


def stream(engine: Any, tracker: Any, frames: list[np.ndarray], batch: int = 4) -> list[Any]:
    """Frames through engine.embed (batched) and tracker.step; one FrameResult each, with
    each object's low-resolution logits of that frame in result.logits."""
    results = []
    for start in range(0, len(frames), batch):
        chunk = frames[start : start + batch]
        for i, emb in enumerate(engine.embed(chunk)):
            res = tracker.step(Frame(start + i, None, (start + i) / 30, chunk[i]), emb)
            res.logits = {
                oid: tracker.track(oid).logits
                for oid, p in zip(res.object_ids, res.present)
                if tracker.track(oid).logits is not None and tracker.track(oid).status != "pending"
            }
            results.append(res)
    return results
