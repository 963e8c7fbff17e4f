"""Issue #15's bounds, unit by unit: the registry's queue and caps, the pace of a
stream, plain YAML, the store after a failed write."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
import zarr

from streamseg.objects import Busy, ObjectRegistry, TooMany
from streamseg.queues import ArrivalPace
from streamseg.safe_yaml import load_plain_yaml
from streamseg.sinks.zarr_store import ZarrSink
from streamseg.types import Frame, FrameResult, Prompt


class RecordingTracker:
    """The registry's side of a tracker: records what it is handed."""

    def __init__(self) -> None:
        self.added: list[Prompt] = []
        self.removed: list[int] = []
        self.objects: list[int] = []

    def track(self, object_id: int) -> object:
        raise KeyError(object_id)

    def add_prompts(self, prompts: list[Prompt]) -> None:
        self.added += prompts

    def remove_object(self, object_id: int) -> None:
        self.removed.append(object_id)


def point(x: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([[x, 1.0]], np.float32), np.array([1])


def test_queue_objects_and_points_are_bounded_and_merged() -> None:
    registry = ObjectRegistry(max_pending=5, max_objects=2, max_points=3)
    first = registry.request_prompt(None, 0, *point(1))
    second = registry.request_prompt(None, 0, *point(2))
    with pytest.raises(TooMany):
        registry.request_prompt(None, 0, *point(3))
    for x in (4, 5, 6):
        registry.request_prompt(first, 0, *point(x))
    with pytest.raises(Busy):
        registry.request_prompt(first, 0, *point(7))
    tracker = RecordingTracker()
    registry.apply(tracker, frame_index=9)
    # one prompt per object, the newest 3 points, at the current frame
    assert [p.object_id for p in tracker.added] == [first, second]
    assert tracker.added[0].points[:, 0].tolist() == [4, 5, 6]
    assert all(p.frame == 9 for p in tracker.added)
    registry.request_prompt(first, 9, *point(8))  # the queue has room again


def test_a_removal_drops_the_prompts_waiting_for_it() -> None:
    registry = ObjectRegistry()
    first = registry.request_prompt(None, 0, *point(1))
    registry.request_removal(first)
    tracker = RecordingTracker()
    registry.apply(tracker, 0)
    assert tracker.added == [] and tracker.removed == [first]


def test_history_is_capped_and_counted() -> None:
    registry = ObjectRegistry(max_pending=10_000)
    first = registry.request_prompt(None, 0, *point(1))
    for _ in range(400):
        registry.request_prompt(first, 0, *point(2))
    described = registry.describe()[first]
    assert len(described["prompts"]) == 256 and described["prompts_not_recorded"] == 145


def test_a_backlog_is_never_judged_live() -> None:
    pace = ArrivalPace()
    for i in range(200):  # frames ready at once: a file piped in
        pace.observe(i / 30, 0.001)
    assert pace.backlog and not pace.live


def test_a_stream_at_its_own_pace_is_live_after_its_start_up_backlog() -> None:
    pace = ArrivalPace()
    for i in range(30):  # what piled up while the run started
        pace.observe(i / 30, 0.001)
    assert not pace.live and not pace.backlog
    for i in range(30, 40):
        pace.observe(i / 30, 0.9 / 30)
    assert pace.live and not pace.backlog


def test_yaml_aliases_are_refused_and_plain_yaml_is_read() -> None:
    assert load_plain_yaml("a: [1, {b: c}]") == {"a": [1, {"b": "c"}]}
    with pytest.raises(yaml.YAMLError, match="aliases"):
        load_plain_yaml("a: &x [1]\nb: *x")
    with pytest.raises(yaml.YAMLError):
        load_plain_yaml("!!python/object/apply:os.system ['true']")


def result(i: int) -> FrameResult:
    frame = Frame(index=i, pts=i, time=i / 24, image=np.zeros((8, 8, 3), np.uint8))
    mask = np.zeros((1, 8, 8), bool)
    mask[0, i % 8] = True
    return FrameResult(frame, [1], mask, np.ones(1, np.float32), np.zeros((1, 4), np.float32),
                       np.ones(1, bool))  # fmt: skip


def test_a_failed_store_write_leaves_the_arrays_as_long_as_frames_written(tmp_path) -> None:
    sink = ZarrSink(tmp_path / "m.zarr", {}, chunk_frames=4)
    for i in range(4):
        sink.write(result(i))
    broken = sink.arrays["latency"]

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    broken.__setitem__ = full  # type: ignore[method-assign]
    sink.arrays["latency"] = type("Full", (), {"__setitem__": full, "shape": broken.shape,
                                               "resize": broken.resize})()  # fmt: skip
    for i in range(4, 7):
        sink.write(result(i))
    with pytest.raises(OSError):
        sink.write(result(7))
    sink.arrays["latency"] = broken
    g = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert g.attrs["frames_written"] == 4
    assert all(g[name].shape[0] == 4 for name in ("masks", "time", "frame_index", "scores"))


def test_masks_are_written_within_a_second_without_a_full_chunk(tmp_path) -> None:
    sink = ZarrSink(tmp_path / "m.zarr", {}, chunk_frames=16, flush_seconds=0.05)
    sink.write(result(0))
    sink.flushed -= 1.0  # as if a second had passed: the next tick writes
    sink.tick()
    g = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert (
        g.attrs["frames_written"] == 1 and g["masks"][0, 0].tolist() == result(0).masks[0].tolist()
    )
