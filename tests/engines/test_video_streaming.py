"""The video engines' streaming tracker against transformers' own whole-video inference,
N objects together against each alone, and the retained state bounded over 500 frames.

Small random-weight models built from the libraries' config classes (seeded), 128 px
(SAM 3's tracker: 224 px).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")

from video_helpers import H, W, clip, library_run, prompts_of, stream  # noqa: E402

from streamseg.engines.video_model import VideoSettings, build_random  # noqa: E402
from streamseg.types import Frame, Prompt  # noqa: E402

FAMILIES = ["sam2", "edgetam", "sam3"]
SIZE = {"sam2": 128, "edgetam": 128, "sam3": 224}  # SAM 3's ViT: multiples of 112

# Two objects at frame 0, a third added at frame 10, object 1 re-prompted at frame 20.
SCHEDULE = [
    (0, [1, 2], [[[30, 40]], [[95, 55], [85, 45]]], [[1], [1, 0]]),
    (10, [3], [[[64, 27]]], [[1]]),
    (20, [1], [[[50, 40]]], [[1]]),
]


def _engine(family: str, **settings: object):
    return build_random(
        family, image_size=SIZE[family], settings=VideoSettings(**settings), device="cpu"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_streaming_equals_whole_video_inference(family: str) -> None:
    import torch

    # "frame": on a prompted frame the library binarizes every object's new memory.
    engine = _engine(family, memory_binarize="frame", batch_size=4)
    frames = clip(32)
    lib = library_run(engine, frames, SCHEDULE)
    tracker = engine.create_tracker()
    tracker.add_prompts(prompts_of(SCHEDULE))
    results = stream(engine, tracker, frames)
    assert len(results) == 32 and sorted(lib) == list(range(32))
    worst, compared, pixels, flips = 0.0, 0, 0, 0
    for t, res in enumerate(results):
        ids, pred, scores = lib[t]
        assert [o for o in res.object_ids if o in res.logits] == ids, t
        full = engine.processor.post_process_masks([pred], original_sizes=[[H, W]], binarize=False)[
            0
        ][:, 0]
        for j, oid in enumerate(ids):
            worst = max(worst, float((res.logits[oid] - pred[j : j + 1]).abs().max()))
            i = res.object_ids.index(oid)
            expected = (full[j] > 0).numpy() & bool(scores[j] > 0)
            # Identical wherever float rounding cannot decide: objects batched together
            # sum in another order than one at a time (EdgeTAM: ~5e-7 in logits).
            decided = (full[j].abs() > 1e-4).numpy()
            np.testing.assert_array_equal(res.masks[i][decided], expected[decided])
            flips += int((res.masks[i] != expected).sum())
            assert res.present[i] == bool(scores[j] > 0)
            assert res.scores[i] == pytest.approx(float(torch.sigmoid(scores[j])), abs=1e-5)
            compared += 1
            pixels += int(res.masks[i].sum())
    assert worst < 1e-4
    assert compared == 10 * 2 + 22 * 3
    assert pixels > 0  # the comparison covers masks with content, not only empty ones
    assert flips <= pixels * 1e-4  # undecided pixels are rare


@pytest.mark.parametrize("family", ["sam2", "edgetam"])
def test_objects_together_equal_each_alone(family: str) -> None:
    engine = _engine(family, batch_size=4)
    frames = clip(12)
    schedule = [
        (0, [1, 2], [[[30, 40]], [[95, 55], [85, 45]]], [[1], [1, 0]]),
        (4, [3], [[[64, 22]]], [[1]]),
    ]
    prompts = prompts_of(schedule)
    together = engine.create_tracker()
    together.add_prompts(prompts)
    joint = stream(engine, together, frames)
    flips = pixels = 0
    for oid in (1, 2, 3):
        alone = engine.create_tracker()
        alone.add_prompts([p for p in prompts if p.object_id == oid])
        single = stream(engine, alone, frames)
        for t, (a, b) in enumerate(zip(joint, single)):
            i = a.object_ids.index(oid)
            assert (oid in a.logits) == (oid in b.logits), t
            if oid not in b.logits:
                continue
            assert float((a.logits[oid] - b.logits[oid]).abs().max()) < 1e-4, (oid, t)
            full = engine.processor.post_process_masks(
                [b.logits[oid]], original_sizes=[[H, W]], binarize=False
            )[0][0, 0]
            # Identical wherever float rounding cannot decide (batched sums differ ~1e-7).
            decided = (full.abs() > 1e-4).numpy()
            np.testing.assert_array_equal(a.masks[i][decided], b.masks[0][decided])
            flips += int((a.masks[i] != b.masks[0]).sum())
            pixels += int(b.masks[0].sum())
            assert a.present[i] == b.present[0]
    assert pixels > 0 and flips <= pixels * 1e-4


def test_retained_state_stops_growing_over_500_frames() -> None:
    engine = _engine("sam2", max_conditioning_frames=3)
    cfg = engine.model.config
    frames = clip(10)
    embeddings = engine.embed(frames)
    tracker = engine.create_tracker()
    tracker.add_prompts(
        [
            Prompt(1, frame=0, points=np.array([[30, 40]]), labels=np.array([1])),
            Prompt(2, frame=0, points=np.array([[95, 55]]), labels=np.array([1])),
            Prompt(3, frame=30, points=np.array([[64, 25]]), labels=np.array([1])),
        ]
        # Re-prompts every 40 frames: more conditioning frames than the cap of 3.
        + [
            Prompt(1, frame=f, points=np.array([[30 + f % 10, 40]]), labels=np.array([1]))
            for f in range(40, 500, 40)
        ]
    )
    sizes = []
    for t in range(500):
        tracker.step(Frame(t, None, t / 30, frames[t % 10]), embeddings[t % 10])
        sizes.append(tracker.retained())
    warm = 130  # three re-prompts of object 1 (cap reached) and object 3 well under way
    counts = [c for c, _ in sizes]
    nbytes = [b for _, b in sizes]
    assert max(counts[warm:]) == counts[warm] and max(nbytes[warm:]) == nbytes[warm]
    assert sizes[-1] == sizes[warm]
    assert nbytes[warm] > nbytes[5]  # it did grow during warm-up, then stopped
    # What is kept, per object: <= 3 conditioning frames, pointers of the last
    # max_object_pointers - 1 frames, memory features of the last num_maskmem - 1.
    for oid in tracker.objects:
        mem = tracker.track(oid).memory
        assert len(mem["cond_frame_outputs"]) <= 3
        non_cond = mem["non_cond_frame_outputs"]
        assert sorted(non_cond) == list(range(500 - cfg.max_object_pointers_in_encoder + 1, 500))
        with_features = [f for f, v in non_cond.items() if "maskmem_features" in v]
        assert with_features == list(range(500 - cfg.num_maskmem + 1, 500))
    cond = tracker.track(1).memory["cond_frame_outputs"]
    assert sorted(cond) == [0, 440, 480]  # the first and the newest


def test_remove_and_readd() -> None:
    engine = _engine("sam2")
    frames = clip(6)
    tracker = engine.create_tracker()
    tracker.add_prompts(prompts_of(SCHEDULE[:1]))
    res = stream(engine, tracker, frames[:3], batch=1)
    full = tracker.retained()
    tracker.remove_object(2)
    assert tracker.retained()[1] < full[1]
    tracker.add_prompts([Prompt(2, frame=4, points=np.array([[95, 55]]), labels=np.array([1]))])
    for t in (3, 4):
        r = tracker.step(Frame(t, None, t / 30, frames[t]), engine.embed([frames[t]])[0])
        assert r.object_ids == [1, 2]
        if t == 3:
            assert not r.present[1] and not r.masks[1].any()
            assert tracker.track(2).status == "pending"
    assert tracker.track(2).status in ("tracking", "hidden")
    assert sorted(tracker.track(2).memory["cond_frame_outputs"]) == [4]
    assert res[0].object_ids == [1, 2]
