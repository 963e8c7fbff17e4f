"""The classic engine driven by the tracker, on synthetic clips made here in numpy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import track

from streamseg.engines.base import ObjectPrompt
from streamseg.engines.classic import ClassicEngine
from streamseg.errors import EngineError, UsageError
from streamseg.eval.metrics import jaccard
from streamseg.track.tracker import Tracker, TrackerConfig
from streamseg.types import Frame, Prompt

H, W, N = 240, 320, 30


def background(seed: int = 0) -> np.ndarray:
    """A textured greenish-grey (H + 80, W + 80, 3) uint8 backdrop, larger than a frame so
    the camera can pan over it."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, ((H + 80) // 8, (W + 80) // 8, 3)).astype(np.uint8)
    tex = cv2.resize(noise, (W + 80, H + 80), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    fine = rng.normal(0, 12, (H + 80, W + 80, 1)).astype(np.float32)
    base = np.array([90, 120, 80], np.float32)  # greenish grey
    return np.clip(base + 0.35 * (tex - 128) + fine, 0, 255).astype(np.uint8)


def ellipse_mask(cx: float, cy: float, ax: int, ay: int, angle: float) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.ellipse(m, (round(cx), round(cy)), (ax, ay), angle, 0, 360, 1, -1)
    return m.astype(bool)


def paint(frame: np.ndarray, mask: np.ndarray, colour, seed: int) -> None:
    """Fill ``mask`` with a textured colour (stripes and noise, so flow has texture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 25 * np.sin((xx + yy) / 5.0)[..., None]
    tex = np.array(colour, np.float32) + stripes + rng.normal(0, 8, (H, W, 1))
    frame[mask] = np.clip(tex[mask], 0, 255).astype(np.uint8)


def make_clip(n: int = N, second: bool = False, exit_right: bool = False):
    """Frames with a red ellipse moving and rotating over a panning textured background.

    Returns (frames, truth1, truth2): lists of (H, W, 3) uint8 RGB and (H, W) bool masks
    (truth2 is None without the second object, a blue ellipse).
    """
    bg = background()
    frames, t1, t2 = [], [], []
    for i in range(n):
        ox, oy = 40 + i, 40 + i // 2  # camera pan
        img = bg[oy : oy + H, ox : ox + W].copy()
        cx = 90 + (i * 11 if exit_right else i * 4)
        m1 = ellipse_mask(cx, 110 + 30 * np.sin(i / 6), 42, 26, 4 * i)
        if second:
            m2 = ellipse_mask(250 - 2 * i, 170, 28, 22, -3 * i)
            paint(img, m2, (50, 70, 210), 2 * i + 1)
            m1 &= ~m2  # the blue one passes in front
            t2.append(m2)
        paint(img, m1, (215, 50, 40), 2 * i)
        frames.append(img)
        t1.append(m1)
    return frames, t1, (t2 if second else None)


def centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([[xs.mean(), ys.mean()]], np.float32)


def test_follows_a_moving_rotating_object_from_its_mask():
    frames, truth, _ = make_clip()
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, frame=0, mask=truth[0])])
    results = track(tracker, frames)
    ious = [jaccard(r.masks[0], t) for r, t in zip(results, truth)]
    assert min(ious) >= 0.8, ious
    assert all(r.present[0] for r in results)
    assert results[5].boxes[0][2] > results[5].boxes[0][0]


def test_follows_an_object_from_a_single_click():
    frames, truth, _ = make_clip()
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts(
        [Prompt(object_id=7, frame=0, points=centre(truth[0]), labels=np.ones(1, np.int32))]
    )
    results = track(tracker, frames)
    assert results[0].object_ids == [7]
    ious = [jaccard(r.masks[0], t) for r, t in zip(results, truth)]
    assert min(ious) >= 0.8, ious


def test_box_prompt_gives_the_object():
    frames, truth, _ = make_clip(n=1)
    ys, xs = np.nonzero(truth[0])
    box = np.array([xs.min() - 6, ys.min() - 6, xs.max() + 6, ys.max() + 6], np.float32)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, box=box)])
    (result,) = track(tracker, frames)
    assert jaccard(result.masks[0], truth[0]) >= 0.8


def test_two_objects_in_one_segment_call_per_frame():
    frames, t1, t2 = make_clip(second=True)
    engine = ClassicEngine()
    calls: list[int] = []
    segment = engine.segment

    def counting(embedding, prompts):
        calls.append(len(prompts))
        return segment(embedding, prompts)

    engine.segment = counting  # type: ignore[method-assign]
    tracker = Tracker(engine)
    tracker.add_prompts(
        [
            Prompt(object_id=1, mask=t1[0]),
            Prompt(object_id=2, points=centre(t2[0]), labels=np.ones(1, np.int32)),
        ]
    )
    results = track(tracker, frames)
    assert calls == [2] * N  # one call per frame, both objects in it
    for r, a, b in zip(results, t1, t2):
        assert r.object_ids == [1, 2]
        assert jaccard(r.masks[0], a) >= 0.75
        assert jaccard(r.masks[1], b) >= 0.8
        assert not (r.masks[0] & r.masks[1]).any()  # a pixel belongs to one object


def test_object_prompted_later_starts_at_its_frame():
    frames, t1, t2 = make_clip(second=True)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts(
        [Prompt(object_id=1, mask=t1[0]), Prompt(object_id=2, frame=10, mask=t2[10])]
    )
    results = track(tracker, frames)
    for i, r in enumerate(results):
        assert r.object_ids == [1, 2]
        if i < 10:
            assert not r.present[1] and not r.masks[1].any()
        else:
            assert r.present[1]
            assert jaccard(r.masks[1], t2[i]) >= 0.8


def test_prompt_while_running_adds_an_object_and_indices_may_skip():
    frames, t1, t2 = make_clip(second=True)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=t1[0])])
    for i in range(0, 12, 2):  # a live source dropping every other frame
        r = tracker.step(Frame(i, i, i / 30, frames[i]), tracker.engine.embed([frames[i]])[0])
    assert tracker.objects == [1]
    # A click aimed at frame 11 that arrives late applies to the next frame seen.
    tracker.add_prompts(
        [Prompt(object_id=2, frame=11, points=centre(t2[11]), labels=np.ones(1, np.int32))]
    )
    r = tracker.step(Frame(12, 12, 0.4, frames[12]), tracker.engine.embed([frames[12]])[0])
    assert tracker.objects == [1, 2]
    assert r.present.tolist() == [True, True]
    assert jaccard(r.masks[1], t2[12]) >= 0.8
    assert jaccard(r.masks[0], t1[12]) >= 0.75


def test_reprompt_replaces_the_object_state():
    frames, t1, t2 = make_clip(second=True)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=t1[0])])
    track(tracker, frames[:15])
    old = tracker.track(1).appearance
    # Object 1 is now said to be the blue ellipse.
    tracker.add_prompts([Prompt(object_id=1, frame=15, mask=t2[15])])
    results = track(tracker, frames[15:], start=15)
    assert tracker.objects == [1]
    assert tracker.track(1).appearance is not old
    assert not np.allclose(tracker.track(1).appearance.fg0, old.fg0)
    for r, b in zip(results, t2[15:]):
        assert jaccard(r.masks[0], b) >= 0.8


def test_removed_object_stays_listed_but_absent():
    frames, t1, t2 = make_clip(second=True)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=t1[0]), Prompt(object_id=2, mask=t2[0])])
    track(tracker, frames[:5])
    tracker.remove_object(2)
    results = track(tracker, frames[5:10], start=5)
    assert tracker.objects == [1, 2]
    assert tracker.track(2).status == "removed"
    assert all(r.present.tolist() == [True, False] for r in results)
    with pytest.raises(UsageError):
        tracker.remove_object(3)
    tracker.add_prompts([Prompt(object_id=2, frame=10, mask=t2[10])])  # starts it again
    (r,) = track(tracker, frames[10:11], start=10)
    assert r.present.tolist() == [True, True]


def test_object_leaving_the_frame_is_absent_and_does_not_stick():
    frames, truth, _ = make_clip(exit_right=True)
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    results = track(tracker, frames)
    gone = [i for i, t in enumerate(truth) if not t.any()]
    assert gone, "the clip should end with the object out of view"
    for i in gone:
        assert not results[i].present[0]
        assert not results[i].masks[0].any()
    visible = [i for i, t in enumerate(truth) if t.sum() > 1500]
    assert min(jaccard(results[i].masks[0], truth[i]) for i in visible) >= 0.8


def test_bad_input_raises_clear_errors():
    frames, truth, _ = make_clip(n=2)
    engine = ClassicEngine()
    with pytest.raises(EngineError):
        engine.embed([frames[0][..., 0]])
    emb = engine.embed([frames[0]])[0]
    with pytest.raises(EngineError):
        engine.segment(emb, [ObjectPrompt(np.zeros((0, 2), np.float32), np.zeros(0, np.int32))])
    tracker = Tracker(engine, TrackerConfig())
    tracker.add_prompts([Prompt(object_id=1, mask=np.ones((10, 10), bool))])
    with pytest.raises(UsageError):
        track(tracker, frames[:1])
    tracker = Tracker(engine)
    track(tracker, frames[1:2], start=5)
    with pytest.raises(UsageError):
        track(tracker, frames[:1], start=3)  # indices must increase
