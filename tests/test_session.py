"""The frame flow: the Python API, failures mid-run, and threads that never hang."""

import threading

import numpy as np
import pytest
import zarr

import streamseg
from streamseg import engines, job
from streamseg.config import Config
from streamseg.engines.classic import ClassicEngine
from streamseg.errors import Interrupted, OutputError, UsageError
from streamseg.queues import Prefetch, ThreadedSink
from streamseg.testing.clips import iou
from streamseg.types import Prompt


def test_python_api_yields_results_as_produced(clip):
    path, masks = clip
    results = streamseg.segment(str(path), prompts=[Prompt(1, 0, mask=masks[0])], model="classic")
    first = next(results)  # a generator: the first frame comes before the video is read
    assert first.frame.index == 0 and first.object_ids == [1]
    rest = list(results)
    assert len(rest) == 23
    assert min(iou(r.masks[0], m) for r, m in zip(rest, masks[1:])) > 0.8


class FailingEngine(ClassicEngine):
    """The classic engine, failing on its ``fail_at``-th embed call."""

    fail_at = 20

    def embed(self, images):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == self.fail_at:
            raise RuntimeError("GPU on fire")
        return super().embed(images)


def test_engine_failure_mid_run_keeps_a_valid_partial_store(tmp_path, clip, monkeypatch):
    path, masks = clip
    config = Config()
    config.output.chunk_frames = 8
    monkeypatch.setattr(
        engines, "build_engine", lambda c: (FailingEngine(c.classic), {"name": "failing"})
    )
    with pytest.raises(RuntimeError, match="GPU on fire"):
        job.run(str(path), [Prompt(1, 0, mask=masks[0])], tmp_path / "o", config, quiet=True)
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert g.attrs["complete"] is False
    assert g.attrs["frames_written"] == 19 == g["masks"].shape[0]  # every frame before it
    assert iou(g["masks"][18, 0], masks[18]) > 0.8


def test_sink_failure_stops_the_run(tmp_path, clip, monkeypatch):
    path, masks = clip

    def broken_write(self, picture, frame):
        raise OSError("disk full")

    from streamseg.sinks.video import VideoSink

    monkeypatch.setattr(VideoSink, "write", broken_write)
    config = Config()
    config.model.name = "classic"
    with pytest.raises(OutputError, match="the video output failed \\(disk full\\)"):
        job.run(str(path), [Prompt(1, 0, mask=masks[0])], tmp_path / "o", config, quiet=True)
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert g.attrs["complete"] is False  # the Zarr store is still closed cleanly


def test_prefetch_passes_errors_and_stops_early():
    def items():
        yield 1
        yield 2
        raise ValueError("bad packet")

    with pytest.raises(ValueError, match="bad packet"):
        list(Prefetch(items(), maxsize=1))
    endless = Prefetch(iter(range(10**9)), maxsize=2)
    assert next(iter(endless)) == 0
    assert endless.close()  # the thread ends although the source never would
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


def test_threaded_sink_backpressure_and_order():
    seen = []
    gate = threading.Event()

    class Slow:
        def write(self, item):
            gate.wait()
            seen.append(item)

        def close(self, complete):
            seen.append(("closed", complete))

    sink = ThreadedSink(Slow(), maxsize=2)
    writer = threading.Thread(target=lambda: [sink.write(i) for i in range(10)])
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive()  # blocked: the queue is bounded
    gate.set()
    writer.join()
    sink.close(True)
    assert seen == [*range(10), ("closed", True)]
    assert np.all(np.diff(seen[:10]) == 1)


class Stuck:
    """A sink whose reader went away: its second write never returns."""

    def __init__(self):
        self.written, self.closed = [], []
        self.forever = threading.Event()

    def write(self, item):
        if self.written:
            self.forever.wait()
        self.written.append(item)

    def close(self, complete):
        self.closed.append(complete)


def within(seconds: float, call, *args):
    """``call(*args)`` in a thread: its result, or its exception raised here; a test
    failure (not a hung test run) when it is still going after ``seconds``."""
    box: dict = {}

    def run():
        try:
            box["value"] = call(*args)
        except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{call.__name__} still waiting after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_a_stuck_sink_interrupts_the_writer_on_stop_and_is_given_up_on_close(caplog):
    stop = threading.Event()
    stuck = Stuck()
    sink = ThreadedSink(stuck, maxsize=2, name="video", stop=stop, stall=0.3)
    for i in range(4):  # 0 is written, 1 sticks in write, 2 and 3 fill the queue
        within(5, sink.write, i)
    stop.set()  # Ctrl-C while the main thread waits for room
    with pytest.raises(Interrupted):
        within(5, sink.write, 4)
    within(5, sink.close, False)  # the run is ending on the signal: a warning, no error
    assert "video output took nothing for 0.3 s" in caplog.text
    assert stuck.written == [0] and stuck.closed == []  # never closed under the stuck write

    sink = ThreadedSink(Stuck(), maxsize=2, name="video", stall=0.3)
    sink.write(0)
    sink.write(1)
    with pytest.raises(OutputError, match="took nothing for 0.3 s.*left unfinished"):
        within(5, sink.close, True)  # a complete run must not end as if the video were whole


def test_python_api_checks_settings_before_any_work(clip):
    config = Config()
    config.model.dtype = "half"  # as --set or a YAML file would, after construction
    with pytest.raises(UsageError, match="dtype 'half' is unknown"):
        next(streamseg.segment(str(clip[0]), ["10,10"], config=config))
