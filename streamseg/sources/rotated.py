"""A source wrapper that turns every frame by a quarter turn (``--rotate``)."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from streamseg.geometry import (
    display_rotation_cw,
    normalize_degrees,
    rotate_image,
    rotate_points,
    rotated_size,
)
from streamseg.sources.base import Source, SourceBase, SourceInfo
from streamseg.sources.pyav import PyAVSource
from streamseg.types import Frame

log = logging.getLogger(__name__)


class RotatedSource(SourceBase):
    """Wrap any Source so its frames come out turned clockwise by ``degrees``.

    degrees: 0, 90, 180, 270, or "auto": the turn that shows the video as players
    do, from the display matrix of a PyAV source (0 for sources without one).
    "auto" decodes the first frame while constructing (PyAV only learns the
    display matrix from decoded frames), so ``info`` is right before ``frames()``.
    Sources that turn their own frames (those with an ``applied_rotation``
    attribute, e.g. AriaSource) get 0 from "auto".

    ``info`` is a copy of the inner source's with width/height swapped for 90/270
    and ``rotation`` set to the clockwise turn applied here; ``applied_rotation``
    holds the same number.
    """

    def __init__(self, source: Source, degrees: int | str = "auto") -> None:
        self.source = source
        self._first: Frame | None = None
        self._frames: Iterator[Frame] | None = None
        if isinstance(degrees, str) and degrees.strip().lower() == "auto":
            # Only PyAV sources carry a display matrix. Sources that turn their own frames
            # (AriaSource, a RotatedSource) have ``applied_rotation``: nothing left to do.
            d = 0
            if isinstance(source, PyAVSource) and getattr(source, "applied_rotation", None) is None:
                self._frames = source.frames()
                try:
                    self._first = next(self._frames)
                except StopIteration:  # nothing decoded: frames() ends at once
                    self._first = None
                except BaseException:
                    source.close()
                    raise
                d = display_rotation_cw(source.info.display_rotation)
        else:
            d = normalize_degrees(degrees)
        self.applied_rotation = d
        info: SourceInfo = copy.copy(source.info)
        info.width, info.height = rotated_size(source.info.width, source.info.height, d)
        info.rotation = d
        self.info = info
        if d:
            log.info("%s: turning frames %d degrees clockwise", info.uri, d)

    def frames(self) -> Iterator[Frame]:
        """The inner source's frames, turned; index/pts/time/arrival unchanged."""
        frames = self._frames if self._frames is not None else self.source.frames()
        if self._first is not None:
            # decoded while opening, long before the pipeline wants it: its latency
            # counts from now, not from before the engine was built
            self._first.arrival = time.monotonic()
            yield self._rotate(self._first)
            self._first = None
        for frame in frames:
            yield self._rotate(frame)

    def _rotate(self, frame: Frame) -> Frame:
        if not self.applied_rotation:
            return frame
        return Frame(
            index=frame.index,
            pts=frame.pts,
            time=frame.time,
            image=rotate_image(frame.image, self.applied_rotation),
            arrival=frame.arrival,
        )

    def rotate_points(self, points: np.ndarray) -> np.ndarray:
        """Points in the inner source's frames -> points in this source's frames."""
        inner = self.source.info
        return rotate_points(points, self.applied_rotation, inner.width, inner.height)

    def metadata(self) -> dict[str, Any]:
        """Attributes worth recording with the output (the inner source's, plus the turn)."""
        inner = getattr(self.source, "metadata", None)
        out: dict[str, Any] = dict(inner()) if callable(inner) else {}
        out["rotation_applied_cw"] = self.applied_rotation
        return out

    def close(self) -> None:
        self.source.close()
