"""The flow estimated ahead, in the thread that reads the frames, changes no mask.

The reading thread is the session's own (streamseg.queues.Prefetch); the clip is
test_reacquire's: an object that moves, is covered, and comes back elsewhere, so the
run goes through tracking, hidden and reacquired states.
"""

from __future__ import annotations

from test_reacquire import occlusion_clip

from streamseg.config import Config
from streamseg.engines.classic import ClassicEngine
from streamseg.flow import FlowEstimator
from streamseg.queues import Prefetch
from streamseg.session import Session
from streamseg.track.flow_ahead import FlowReader
from streamseg.track.tracker import Tracker
from streamseg.types import Frame, Prompt


def _frames(images, indices):
    return (Frame(index=i, pts=i, time=float(i), image=images[i]) for i in indices)


def _counted(monkeypatch, name: str) -> list:
    """Count FlowEstimator.``name``'s calls (same answers): the list grows by one each."""
    calls: list = []
    real = getattr(FlowEstimator, name)

    def counting(self, *args):
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(FlowEstimator, name, counting)
    return calls


def _run(monkeypatch, images, truth, indices, ahead: bool, skip=()):
    """Masks, scores and the number of flows the tracker computed itself."""
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, mask=truth[0])])
    computed = _counted(monkeypatch, "compute")  # the reader estimates; only the tracker computes
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


def test_masks_are_the_same_with_the_flow_read_ahead_and_the_tracker_computes_none(monkeypatch):
    images, truth = occlusion_clip()
    n = len(images)
    plain, computed_plain = _run(monkeypatch, images, truth, range(n), ahead=False)
    ahead, computed_ahead = _run(monkeypatch, images, truth, range(n), ahead=True)
    _same(plain, ahead)
    assert computed_plain == n - 1  # every frame after the first is carried
    assert computed_ahead == 0
    assert sum(p for *_, p in ahead) < n  # the run went through the hidden frames


def test_a_frame_the_tracker_skips_is_not_bridged_by_the_flow_read_ahead(monkeypatch):
    # The reader sees every frame, the tracker only some (as when frames are dropped):
    # the flow read ahead for frame 5 is from frame 4, which the tracker never saw.
    images, truth = occlusion_clip()
    n = len(images)
    skip = {4, 9, 10}
    kept = [i for i in range(n) if i not in skip]
    plain, _ = _run(monkeypatch, images, truth, kept, ahead=False)
    ahead, computed = _run(monkeypatch, images, truth, range(n), ahead=True, skip=skip)
    _same(plain, ahead)
    assert computed == 2  # frames 5 and 11, after the gaps; the rest was read ahead


def test_what_was_read_is_taken_once_and_only_for_the_same_image():
    images, _ = occlusion_clip()
    tracker = Tracker(ClassicEngine())
    reader = FlowReader(tracker._estimator(), lambda index: index != 2)
    frames = list(reader.frames(_frames(images, range(4))))
    assert [f.index for f in frames] == [0, 1, 2, 3]
    first = reader.take(frames[0])
    assert first is not None and first.flow is None and first.previous is None  # no frame before
    assert first.gray.shape == tracker._estimator().prepare(images[0]).shape
    second = reader.take(frames[1])
    assert second is not None and second.previous == 0 and second.flow is not None
    assert second.flow.backward.shape == (*first.gray.shape, 2)
    assert reader.take(frames[1]) is None  # taken once
    not_wanted = reader.take(frames[2])
    assert not_wanted is not None and not_wanted.flow is None
    # Another image under a read frame's index (a tracker stepped with other frames).
    other = Frame(index=3, pts=3, time=3.0, image=images[3].copy())
    assert reader.take(other) is None


def test_no_flow_is_estimated_for_the_frames_up_to_an_objects_first_prompt(monkeypatch):
    images, truth = occlusion_clip()
    estimated = _counted(monkeypatch, "estimate")
    start = 6
    tracker = Tracker(ClassicEngine())
    tracker.add_prompts([Prompt(object_id=1, frame=start, mask=truth[start])])
    reader = Prefetch(tracker.read_ahead(_frames(images, range(len(images)))), 4, name="test")
    try:
        results = [tracker.step(f, tracker.engine.embed([f.image])[0]) for f in reader]
    finally:
        reader.close()
    assert [r.present[0] for r in results[:start]] == [False] * start
    assert results[start].present[0]
    # Only the flows into frames start + 1 ... are estimated, each once.
    assert len(estimated) == len(images) - 1 - start


def test_a_run_on_a_file_reads_the_flow_ahead_and_a_live_one_does_not(clip, monkeypatch):
    path, masks = clip
    computed = _counted(monkeypatch, "compute")
    config = Config()
    config.model.name = "classic"
    with Session(str(path), [Prompt(1, 0, mask=masks[0])], config, via="api") as session:
        results = list(session)
    assert len(results) == len(masks) and all(r.present[0] for r in results)
    assert session.tracker._reader is not None
    assert computed == []  # every flow was read ahead
    # Live (frames may be dropped, and reading ahead would add latency): not read ahead.
    config.source.live = True
    with Session(str(path), [Prompt(1, 0, mask=masks[0])], config, via="api") as session:
        assert next(iter(session)).present[0]
    assert session.tracker._reader is None
