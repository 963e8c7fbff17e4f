"""The flow estimated ahead, in the thread that reads the frames, changes no mask.

The reading thread is the session's own (streamseg.queues.Prefetch); the clip is
test_reacquire's: an object that moves, is covered, and comes back elsewhere, so the
run goes through tracking, hidden and reacquired states.
"""

from __future__ import annotations

from test_reacquire import occlusion_clip

from streamseg.engines.classic import ClassicEngine
from streamseg.queues import Prefetch
from streamseg.track.flow_ahead import FlowReader
from streamseg.track.tracker import Tracker
from streamseg.types import Frame, Prompt


def _frames(images, indices):
    return (Frame(index=i, pts=i, time=float(i), image=images[i]) for i in indices)


def _run(images, truth, indices, ahead: bool, skip=()):
    """Masks, scores and the number of flows the tracker computed itself."""
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    computed = []
    compute = tracker._flow.compute
    tracker._flow.compute = lambda *a: computed.append(1) or compute(*a)  # counts, same answer
    stream = _frames(images, indices)
    reader = Prefetch(tracker.read_ahead(stream) if ahead else stream, 4, name="test-read")
    out = []
    try:
        for frame in reader:
            if frame.index in skip:
                continue
            r = tracker.step(frame, tracker.engine.embed([frame.image])[0])
            out.append((frame.index, r.masks[0].copy(), float(r.scores[0]), bool(r.present[0])))
    finally:
        reader.close()
    return out, len(computed)


def _same(a, b):
    assert [x[0] for x in a] == [x[0] for x in b]
    for (i, ma, sa, pa), (_, mb, sb, pb) in zip(a, b):
        assert (ma == mb).all(), f"frame {i}: masks differ"
        assert sa == sb and pa == pb, f"frame {i}: score/present {sa, pa} vs {sb, pb}"


def test_masks_are_the_same_with_the_flow_read_ahead_and_the_tracker_computes_none():
    images, truth = occlusion_clip()
    n = len(images)
    plain, computed_plain = _run(images, truth, range(n), ahead=False)
    ahead, computed_ahead = _run(images, truth, range(n), ahead=True)
    _same(plain, ahead)
    assert computed_plain == n - 1  # every frame after the first is carried
    assert computed_ahead == 0
    assert sum(p for *_, p in ahead) < n  # the run went through the hidden frames


def test_a_frame_the_tracker_skips_is_not_bridged_by_the_flow_read_ahead():
    # The reader sees every frame, the tracker only some (as when frames are dropped):
    # the flow read ahead for frame 5 is from frame 4, which the tracker never saw.
    images, truth = occlusion_clip()
    n = len(images)
    skip = {4, 9, 10}
    kept = [i for i in range(n) if i not in skip]
    plain, _ = _run(images, truth, kept, ahead=False)
    ahead, computed = _run(images, truth, range(n), ahead=True, skip=skip)
    _same(plain, ahead)
    assert computed == 2  # frames 5 and 11, after the gaps; the rest was read ahead


def test_no_flow_is_estimated_while_there_is_nothing_to_carry():
    images, _ = occlusion_clip()
    tracker = Tracker(ClassicEngine())
    reader = FlowReader(tracker._estimator(), lambda: False)
    frames = list(reader.frames(_frames(images, range(3))))
    assert [f.index for f in frames] == [0, 1, 2]
    for i in range(3):
        got = reader.take(i)
        assert got is not None and got.flow is None and got.previous is None
        assert got.gray.shape == tracker._estimator().prepare(images[i]).shape
    assert reader.take(1) is None  # taken once
