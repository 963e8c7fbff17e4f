"""The render stage: FrameResults become pictures, and pictures go to a video sink.

A renderer is a callable ``FrameResult -> (H, W, 3) uint8 RGB`` with ``close()``:
``Overlay`` (masks drawn over the frame, render/overlay.py), or an inpainter
(``--inpaint``: render/inpaint.py, render/remove.py). ``RenderedVideo`` is the sink
that runs one renderer and hands its pictures to a VideoSink; the session runs it
in its own thread (streamseg/queues.py), so rendering and encoding overlap the model.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import numpy as np

from streamseg.render.overlay import draw_overlay
from streamseg.sinks.base import SinkBase
from streamseg.sinks.video import VideoSink
from streamseg.types import FrameResult


class Renderer(Protocol):
    def __call__(self, result: FrameResult) -> np.ndarray: ...

    def close(self) -> None: ...


class Overlay:
    """Each present object's mask filled at ``alpha`` and outlined, the gaze drawn."""

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def __call__(self, result: FrameResult) -> np.ndarray:
        return draw_overlay(result, self.alpha)

    def close(self) -> None:
        pass


class RenderedVideo(SinkBase):
    """A sink: render each result with ``renderer`` and encode the picture with ``video``.

    observer: an object with ``stage(name)`` context managers (``streamseg bench``):
    the renderer's time counts as "rendering", the encoder's as "writing".
    """

    def __init__(self, renderer: Renderer, video: VideoSink, observer: Any = None) -> None:
        self.renderer, self.video, self.observer = renderer, video, observer

    def _stage(self, name: str) -> Any:
        return self.observer.stage(name) if self.observer is not None else contextlib.nullcontext()

    @property
    def progress(self) -> float:
        """When the encoder last got a packet out (ThreadedSink's stall check)."""
        return self.video.progress

    def write(self, result: FrameResult) -> None:
        with self._stage("rendering"):
            picture = self.renderer(result)
        with self._stage("writing"):
            self.video.write(picture, result.frame)

    def close(self, complete: bool) -> None:
        try:
            with self._stage("writing"):
                self.video.close(complete)
        finally:
            self.renderer.close()
