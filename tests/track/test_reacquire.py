"""Loss and re-acquisition: an object hidden by an occluder goes absent (its mask does
not stick to the occluder or the background) and is found again by its appearance
when it comes back elsewhere. Synthetic clips made here in numpy."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from helpers import track

from streamseg.engines.base import ObjectPrompt, Segmentation
from streamseg.engines.classic import ClassicEngine
from streamseg.eval.metrics import jaccard
from streamseg.track.tracker import HIDDEN, LOST, REACQUIRED, TRACKING, Tracker, TrackerConfig
from streamseg.types import Frame, Prompt

H, W, N = 240, 320, 30
HIDE = (10, 20)  # frames during which the object is behind the occluder
OCCLUDER = (70, 55, 190, 145)  # x0, y0, x1, y1, in frame pixels


def _background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, ((H + 80) // 8, (W + 80) // 8, 3)).astype(np.uint8)
    tex = cv2.resize(noise, (W + 80, H + 80), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    fine = rng.normal(0, 12, (H + 80, W + 80, 1)).astype(np.float32)
    base = np.array([90, 120, 80], np.float32)
    return np.clip(base + 0.35 * (tex - 128) + fine, 0, 255).astype(np.uint8)


def _paint(frame: np.ndarray, mask: np.ndarray, colour, seed: int, at=(0.0, 0.0)) -> None:
    """Fill ``mask`` with a textured colour; the stripes move with ``at`` (so the flow
    sees the painted thing move)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 25 * np.sin((xx - at[0] + yy - at[1]) / 5.0)[..., None]
    tex = np.array(colour, np.float32) + stripes + rng.normal(0, 8, (H, W, 1))
    frame[mask] = np.clip(tex[mask], 0, 255).astype(np.uint8)


def _ellipse(cx: float, cy: float, ax: int, ay: int, angle: float) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.ellipse(m, (round(cx), round(cy)), (ax, ay), angle, 0, 360, 1, -1)
    return m.astype(bool)


def occlusion_clip(jump: tuple[int, int] = (90, 50)):
    """A red ellipse moving over a panning textured background; from frame HIDE[0] a
    blue-grey occluder stands over it, and from HIDE[1] it is out again, ``jump``
    pixels further on (it moved on behind the occluder). Returns frames, visible masks."""
    bg = _background()
    x0, y0, x1, y1 = OCCLUDER
    occ = np.zeros((H, W), bool)
    occ[y0:y1, x0:x1] = True
    frames, truth = [], []
    for i in range(N):
        ox, oy = 20 + i, 20 + i // 2  # camera pan
        img = bg[oy : oy + H, ox : ox + W].copy()
        cx, cy = 70 + 4 * i, 100 + 10 * np.sin(i / 5)
        if i >= HIDE[1]:
            cx, cy = cx + jump[0], cy + jump[1]
        m = _ellipse(cx, cy, 30, 20, 3 * i)
        _paint(img, m, (215, 50, 40), 2 * i, (cx, cy))
        if i >= HIDE[0]:
            _paint(img, occ, (70, 80, 115), 1000 + i)
            m = m & ~occ
        frames.append(img)
        truth.append(m)
    return frames, truth


def test_clip_hides_the_object_fully_then_shows_it_elsewhere():
    _, truth = occlusion_clip()
    assert all(t.sum() > 1500 for t in truth[: HIDE[0]] + truth[HIDE[1] :])
    assert not any(t.any() for t in truth[HIDE[0] : HIDE[1]])
    # Elsewhere: it comes back away from where it went.
    assert jaccard(truth[HIDE[1]], truth[HIDE[0] - 1]) == 0


def test_hidden_object_is_absent_then_reacquired_by_its_colours():
    frames, truth = occlusion_clip()
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    results, statuses = [], []
    for i, img in enumerate(frames):
        frame = Frame(index=i, pts=i, time=float(i), image=img)
        results.append(tracker.step(frame, tracker.engine.embed([img])[0]))
        statuses.append(tracker.track(1).status)
    for i in range(HIDE[0]):
        assert results[i].present[0]
        assert jaccard(results[i].masks[0], truth[i]) >= 0.8, i
    # Hidden: absent, and the mask sticks neither to the occluder nor the background.
    for i in range(HIDE[0] + 1, HIDE[1]):
        assert not results[i].present[0], i
        assert not results[i].masks[0].any(), i
    back = [i for i in range(HIDE[1], N) if results[i].present[0]]
    assert back and back[0] <= HIDE[1] + 5, back
    assert statuses[back[0]] == REACQUIRED
    assert all(s == TRACKING for s in statuses[back[0] + 1 :])
    for i in range(back[0], N):
        assert results[i].present[0], i
        assert jaccard(results[i].masks[0], truth[i]) >= 0.7, i
    assert tracker.track(1).score > 0.5


def test_without_reacquisition_the_object_stays_lost():
    frames, truth = occlusion_clip()
    tracker = Tracker(ClassicEngine(), TrackerConfig(reacquire=False))
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    results = track(tracker, frames)
    assert not any(r.present[0] for r in results[HIDE[0] + 1 :])
    assert tracker.track(1).status in (HIDDEN, LOST)


def test_locate_finds_the_object_by_colour_and_nothing_when_it_is_gone():
    frames, truth = occlusion_clip()
    engine = ClassicEngine()
    first = engine.segment(
        engine.embed([frames[0]])[0],
        [ObjectPrompt(np.zeros((0, 2)), np.zeros(0), mask=truth[0], mask_given=True)],
    )[0]
    area = float(truth[0].sum())
    found = engine.locate(engine.embed([frames[25]])[0], first.appearance, area)
    assert found is not None
    x, y, score = found
    ys, xs = np.nonzero(truth[25])
    assert abs(x - xs.mean()) < 8 and abs(y - ys.mean()) < 8
    assert 0.8 <= score <= 1.0
    assert engine.locate(engine.embed([frames[15]])[0], first.appearance, area) is None
    # Far too big or small an object for that blob: not it.
    assert engine.locate(engine.embed([frames[25]])[0], first.appearance, 20 * area) is None
    assert engine.locate(engine.embed([frames[25]])[0], None, area) is None


# -- a test engine that answers from the ground truth -----------------------------


@dataclass
class Asked:
    frame: int
    on_object: bool
    points: np.ndarray
    box: np.ndarray | None


class TruthEngine:
    """Answers from ground truth: the object's true visible mask when the tracker's
    prompt (a positive point, or most of the prior's core) lies on the object; a wrong
    blob on the background when it does not; nothing when nothing is asked. Its
    ``locate`` reports the true centre of the visible object."""

    name = "truth"

    def __init__(self, truth: list[np.ndarray]):
        self.truth = truth
        self.decoy = _ellipse(40, 200, 20, 15, 0)
        self.frame = -1
        self.asked: list[Asked] = []

    def embed(self, images):
        self.frame += len(images)
        return [self.frame] * len(images)

    def segment(self, embedding: int, prompts) -> list[Segmentation]:
        truth = self.truth[embedding]
        out = []
        for p in prompts:
            if p.mask_given:
                out.append(Segmentation(p.mask > 0.5, 1.0, None, "red"))
                continue
            pos = p.points[p.labels > 0] if len(p.points) else np.zeros((0, 2))
            core = p.mask > 0.5 if p.mask is not None else np.zeros_like(truth)
            if not len(pos) and not core.any():
                out.append(Segmentation(np.zeros_like(truth), 0.0, None, p.appearance))
                continue
            h, w = truth.shape
            ix = np.clip(np.round(pos[:, 0]).astype(int), 0, w - 1)
            iy = np.clip(np.round(pos[:, 1]).astype(int), 0, h - 1)
            on_points = bool(truth[iy, ix].any()) if len(pos) else False
            on_core = core.any() and (core & truth).sum() >= 0.5 * core.sum()
            on = on_points or bool(on_core)
            self.asked.append(Asked(embedding, on, pos.copy(), p.box))
            mask = truth.copy() if on else self.decoy.copy()
            out.append(Segmentation(mask, 1.0 if on else 0.9, None, "red"))
        return out

    def locate(self, embedding: int, appearance, area=None):
        truth = self.truth[embedding]
        if appearance != "red" or not truth.any():
            return None
        ys, xs = np.nonzero(truth)
        return float(xs.mean()), float(ys.mean()), 0.95


def test_tracked_prompts_stay_on_the_object_through_motion_and_occlusion():
    frames, truth = occlusion_clip()
    engine = TruthEngine(truth)
    tracker = Tracker(engine)
    ys, xs = np.nonzero(truth[0])
    click = np.array([[xs.mean(), ys.mean()]], np.float32)
    tracker.add_prompts(
        [Prompt(object_id=1, mask=truth[0], points=click, labels=np.ones(1, np.int32))]
    )
    results = track(tracker, frames)
    # While the object is in view, the tracker never asked about anything else (on
    # the frame an occluder suddenly covers it, there is nothing right to ask about:
    # the wrong answer it gets then must not be taken).
    assert engine.asked, "the engine was never asked"
    wrong = [a.frame for a in engine.asked if not a.on_object and truth[a.frame].any()]
    assert not wrong, f"prompts off the object on frames {wrong}"
    assert all(not r.masks[0][engine.decoy].any() for r in results)
    # Carried points (flow, forward-backward checked) stay inside the object, boxes on it.
    for a in engine.asked:
        if not truth[a.frame].any():
            continue
        t = cv2.dilate(truth[a.frame].view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        for x, y in a.points:
            assert t[int(round(y)), int(round(x))], (a.frame, x, y)
        if a.box is not None:
            x0, y0, x1, y1 = (int(v) for v in a.box)
            assert t[y0:y1, x0:x1].any(), a.frame
    # Hidden frames: nothing asked with points, nothing shown.
    assert not any(len(a.points) for a in engine.asked if HIDE[0] < a.frame < HIDE[1])
    for i in range(HIDE[0], HIDE[1]):
        assert not results[i].present[0] and not results[i].masks[0].any(), i
    # Back within a few frames of re-entry, exactly the object from then on.
    back = [i for i in range(HIDE[1], N) if results[i].present[0]]
    assert back and back[0] <= HIDE[1] + 5, back
    for i in range(back[0], N):
        assert jaccard(results[i].masks[0], truth[i]) >= 0.99, i


def test_state_stays_small_while_lost():
    frames, truth = occlusion_clip()
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    track(tracker, frames[:16])
    tr = tracker.track(1)
    assert tr.mask is None and tr.template is not None
    ys, xs = np.nonzero(truth[HIDE[0] - 1])
    assert tr.template.size <= 2 * (np.ptp(xs) + 2) * (np.ptp(ys) + 2)


def test_drifted_points_are_resampled_spread_over_the_interior():
    from streamseg.track.points import interior_points

    mask = np.zeros((100, 200), bool)
    mask[20:80, 30:170] = True
    kept = np.array([[50, 50]], np.float32)
    new = interior_points(mask, 3, kept)
    assert new.shape == (3, 2)
    dist = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 3)
    for x, y in new:
        assert dist[int(y), int(x)] >= 0.5 * dist.max() - 1  # deep inside, not on the edge
    points = np.concatenate([kept, new])
    gaps = np.linalg.norm(points[:, None] - points[None], axis=2)[np.triu_indices(4, 1)]
    assert gaps.min() > 20  # spread, not piled on one spot
