"""Re-acquisition of an object that went out of sight (see streamseg/track/tracker.py).

While an object is hidden or lost and the engine offers ``locate``, the frame is
searched for its stored appearance (``search``); a candidate confirmed on enough
consecutive frames becomes a fresh prompt there (``reacquire_prompt``), and the
engine's answer is verified before the object counts as present again
(``store_reacquired``). ``c`` is the TrackerConfig throughout.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np

from streamseg.engines.base import ObjectPrompt
from streamseg.track.points import interior_points
from streamseg.track.state import HIDDEN, LOST, REACQUIRED, ObjectTrack, remember_shape
from streamseg.types import mask_box

log = logging.getLogger(__name__)


def search(engine: Any, tr: ObjectTrack, embedding: Any, c: Any) -> bool:
    """Look for an out-of-sight object by its appearance; True once a candidate has
    been found on enough consecutive frames near the same place."""
    locate = getattr(engine, "locate", None)
    if (
        not c.reacquire
        or locate is None
        or tr.appearance is None
        or tr.template is None
        or (c.max_lost is not None and tr.status == LOST and tr.hidden_for > c.max_lost)
    ):
        return False
    hit = locate(embedding, tr.appearance, tr.peak_area or None)
    if hit is None:
        tr.candidate, tr.hits = None, 0
        return False
    x, y = float(hit[0]), float(hit[1])
    near = c.reacquire_distance * max(np.sqrt(tr.peak_area), 4.0)
    if tr.candidate is not None and np.hypot(x - tr.candidate[0], y - tr.candidate[1]) <= near:
        tr.hits += 1
    else:
        tr.hits = 1
    tr.candidate = (x, y)
    return tr.hits >= c.reacquire_confirm


def reacquire_prompt(tr: ObjectTrack, shape: tuple[int, int]) -> ObjectPrompt:
    """A fresh prompt where the object was found: its last shape centred there."""
    assert tr.template is not None and tr.candidate is not None
    h, w = shape
    x, y = tr.candidate
    th, tw = tr.template.shape
    ys, xs = np.nonzero(tr.template)
    x0, y0 = round(x - xs.mean()), round(y - ys.mean())
    prior = np.zeros((h, w), np.float32)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + tw), min(h, y0 + th)
    if fx1 > fx0 and fy1 > fy0:
        prior[fy0:fy1, fx0:fx1] = tr.template[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    sigma = max(1.0, 0.05 * np.sqrt(tr.peak_area))
    soft: np.ndarray = cv2.GaussianBlur(prior, (0, 0), sigma)
    box = mask_box(soft >= 0.5)
    return ObjectPrompt(
        points=np.array([[x, y]], np.float32),
        labels=np.ones(1, np.int32),
        box=box if box[2] > box[0] else None,
        mask=soft,
        appearance=tr.appearance,
    )


def store_reacquired(tr: ObjectTrack, seg: Any, min_px: int, c: Any) -> None:
    """Verify the engine's answer at a re-acquisition candidate; resume if it holds."""
    mask = np.asarray(seg.mask, bool)
    area = int(mask.sum())
    lo, hi = c.reacquire_area
    ok = (
        area >= min_px
        and lo * tr.peak_area <= area <= hi * tr.peak_area
        and float(seg.score) >= c.reacquire_score
    )
    if not ok:
        tr.candidate, tr.hits = None, 0
        tr.hidden_for += 1
        if tr.status == HIDDEN and tr.hidden_for > c.max_hidden:
            tr.status, tr.extent, tr.motion = LOST, None, None
        return
    log.info("object %s re-acquired (score %.2f)", tr.object_id, float(seg.score))
    tr.logits = seg.logits
    tr.confidence = float(np.clip(seg.score, 0.0, 1.0))
    tr.score = tr.start * tr.confidence
    if seg.appearance is not None:
        tr.appearance = seg.appearance
    tr.status, tr.mask, tr.box, tr.hidden_for = REACQUIRED, mask, mask_box(mask), 0
    tr.shown = seg.shown
    tr.candidate, tr.hits, tr.motion = None, 0, None
    tr.peak_area = max(float(area), c.peak_decay * tr.peak_area)
    tr.extent = mask.astype(np.float32) if c.extent_decay > 0 else None
    remember_shape(tr)
    # The carried clicks no longer mark anything: one positive point inside it.
    tr.points, tr.labels = interior_points(mask), np.ones(1, np.int32)
