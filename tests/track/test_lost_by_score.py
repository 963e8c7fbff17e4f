"""An object whose engine stops believing in it is marked absent and looked for.

The engine here answers from ground truth (test_reacquire's TruthEngine), but for a
few frames it keeps the carried mask in place while scoring it near zero: what the
classic engine does when its evidence no longer supports the object (it falls back
to the prior, scored low). Nothing else gives the loss away (the mask does not jump,
shrink or leave the prior), so only the track's confidence (``lost_score``) can.
"""

from __future__ import annotations

from helpers import track
from test_reacquire import TruthEngine, occlusion_clip

from streamseg.engines.base import Segmentation
from streamseg.eval.metrics import jaccard
from streamseg.track.tracker import Tracker, TrackerConfig
from streamseg.types import Prompt

DOUBT = (3, 5)  # frames on which the engine scores its answer near zero


class DoubtingEngine(TruthEngine):
    def __init__(self, truth):
        super().__init__(truth)
        self.located: list[int] = []

    def segment(self, embedding, prompts):
        out = super().segment(embedding, prompts)
        if DOUBT[0] <= embedding < DOUBT[1]:
            for i, p in enumerate(prompts):
                if p.mask is not None and not p.mask_given:
                    out[i] = Segmentation(p.mask > 0.5, 0.01, None, "red")
        return out

    def locate(self, embedding, appearance, area=None):
        self.located.append(embedding)
        return super().locate(embedding, appearance, area)


def run(lost_score: float):
    frames, truth = occlusion_clip()
    frames, truth = frames[:10], truth[:10]  # before the occluder comes
    engine = DoubtingEngine(truth)
    tracker = Tracker(engine, TrackerConfig(lost_score=lost_score))
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    return track(tracker, frames), truth, engine


def test_an_object_its_engine_no_longer_believes_in_is_absent_then_found_again():
    results, truth, engine = run(TrackerConfig().lost_score)
    present = [bool(r.present[0]) for r in results]
    assert all(present[: DOUBT[0]]), present
    assert not present[DOUBT[0]], present  # at once: the score fell from ~1 to ~0
    assert DOUBT[0] + 1 in engine.located  # re-acquisition looks for it from the next frame
    back = [i for i in range(DOUBT[1], len(results)) if present[i]]
    assert back and back[0] <= DOUBT[1] + 2, present
    for i in range(back[0], len(results)):
        assert jaccard(results[i].masks[0], truth[i]) >= 0.99, i
        # Found afresh, it is trusted afresh (a doubted track would still be at ~0.1).
        assert results[i].scores[0] > 0.9, (i, results[i].scores[0])


def test_without_lost_score_the_doubted_mask_stays_shown():
    results, _, _ = run(0.0)
    assert all(bool(r.present[0]) for r in results)
    scores = [float(r.scores[0]) for r in results]
    assert max(scores[DOUBT[0] : DOUBT[1]]) < 0.05 and scores[-1] < 0.6, scores
