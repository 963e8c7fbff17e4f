"""Watching a run stage by stage, without touching what runs (``streamseg bench``).

An observer has ``stage(name)``, a context manager around the work of one stage.
The session, given one, times the stages it runs itself: "decode" (in the decode
thread), "encode" (the engine's ``embed``), "step" (the tracker's whole step),
"decode-masks" (the engine's ``segment``, called by the tracker), "rendering" and
"writing" (in the sink threads). Engines that split their own work finer (SAM:
"preprocess" and "encode" on its CUDA stream) have an ``observer`` attribute and
report those stages themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from streamseg.sinks.base import SinkBase


class Observer(Protocol):
    def stage(self, name: str) -> contextlib.AbstractContextManager[Any]: ...


class ObservedEngine:
    """An engine whose ``embed`` and ``segment`` calls are reported to ``observer``.

    Every other attribute is the engine's own. ``segment_calls`` counts decoder calls.
    Engines that report their own stages (an ``observer`` attribute) get the observer
    and are only counted here.
    """

    def __init__(self, engine: Any, observer: Observer) -> None:
        self._engine, self._observer = engine, observer
        self._own = hasattr(engine, "observer")
        if self._own:
            engine.observer = observer
        self.segment_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def _stage(self, name: str) -> Any:
        return contextlib.nullcontext() if self._own else self._observer.stage(name)

    @property
    def reports_own_stages(self) -> bool:
        """True when the engine times its image encoder itself (it has one)."""
        return self._own

    def embed(self, images: Sequence[Any]) -> list[Any]:
        with self._stage("encode"):
            return self._engine.embed(images)

    def segment(self, embedding: Any, prompts: Sequence[Any]) -> list[Any]:
        self.segment_calls += 1
        with self._stage("decode-masks"):
            return self._engine.segment(embedding, prompts)


class ObservedSink(SinkBase):
    """A sink whose writes and close count as ``name`` (e.g. "writing")."""

    def __init__(self, sink: Any, observer: Observer, name: str = "writing") -> None:
        self.sink, self.observer, self.name = sink, observer, name

    @property
    def progress(self) -> float:
        return float(getattr(self.sink, "progress", 0.0))

    def write(self, item: Any) -> None:
        with self.observer.stage(self.name):
            self.sink.write(item)

    def tick(self) -> None:
        tick = getattr(self.sink, "tick", None)
        if tick is not None:
            with self.observer.stage(self.name):
                tick()

    def close(self, complete: bool) -> None:
        with self.observer.stage(self.name):
            self.sink.close(complete)


def observed_frames(frames: Iterator[Any], observer: Observer) -> Iterator[Any]:
    """The source's frames, each one's decoding reported as "decode"."""
    while True:
        with observer.stage("decode"):
            frame = next(frames, None)
        if frame is None:
            return
        yield frame
