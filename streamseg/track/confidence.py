"""The per-frame score of a tracked object: how much to trust its mask on this frame.

An engine's own score judges one frame (the classic engine: agreement with the
motion-carried prior times how decided its posterior is; SAM: its predicted IoU).
A track goes wrong slowly (drift) or at once (a jump to another region), so the
tracker's score combines

- the track's confidence, a running mean of the engine's per-frame scores (errors
  accumulate: a track that was unsure a while ago is still suspect), started at 1,
  and
- this frame's agreement with the prior: the IoU of the answer with the mask the
  motion carried over (its 0.5 level set), or the engine's own score if lower.
  Below ``score_jump`` the confidence falls in proportion: a sudden jump lowers it
  at once, and it recovers only as the running mean does.

The score reported is that confidence times the engine's score on the object's
first frame (``ObjectTrack.start``): a track is no more trustworthy than its start
(a click that found only part of the object, or found it unclearly, scores lower all
along), times the engine's certainty of this frame taken alone
(``Segmentation.certainty``; the classic engine: how decided its posterior is), which
does not enter the confidence. When the confidence falls below ``lost_score`` the
object is clearly lost and treated as out of sight (absent, re-acquisition looks for
it).
"""

from __future__ import annotations

import numpy as np


def prior_iou(mask: np.ndarray, prior: np.ndarray) -> float:
    """IoU of a (H, W) bool mask with a (H, W) float32 prior's 0.5 level set (1.0 when
    both are empty)."""
    carried = prior > 0.5
    union = np.count_nonzero(mask | carried)
    return 1.0 if union == 0 else np.count_nonzero(mask & carried) / union


def frame_score(
    confidence: float, engine_score: float, jump_iou: float, rate: float, jump: float
) -> tuple[float, float]:
    """(new confidence, this frame's score), both in [0, 1].

    confidence: the track's running confidence so far; engine_score: the engine's
    score for this frame; jump_iou: ``prior_iou`` of the answer; rate: weight of this
    frame in the running mean; jump: the prior IoU (or engine score) below which the
    confidence is scaled down.
    """
    conf = (1.0 - rate) * confidence + rate * float(np.clip(engine_score, 0.0, 1.0))
    # The engine may keep the prior when its evidence says otherwise (the classic
    # engine does): its own score then tells of the jump the mask does not show.
    worst = min(jump_iou, float(engine_score))
    factor = 1.0 if jump <= 0 else float(np.clip(worst / jump, 0.0, 1.0))
    # The hit is kept: after a jump the track is suspect until it has earned back trust.
    conf *= factor
    return conf, conf
