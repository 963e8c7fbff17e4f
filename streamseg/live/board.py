"""The newest overlay frame, shared by every viewer of the preview.

Publishing a frame only swaps a reference, so the pipeline pays nothing while no
page is open. A viewer asking for a frame newer than the one it shows waits (a
long-poll) and gets the newest one: frames are never queued, a slow viewer skips
ahead, and its latency stays at one frame. The JPEG is encoded once per frame,
by the first viewer that asks, and shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import numpy as np

from streamseg.live.handler import HttpError

MAX_WAITING = 32  # concurrent long-polls; more viewers than this get 503


class FrameBoard:
    """The newest frame, and its JPEG made on demand (once per frame, for all viewers)."""

    def __init__(self, jpeg_quality: int) -> None:
        self.quality = jpeg_quality
        self._cond = threading.Condition()
        self._index = -1
        self._size: tuple[int, int] | None = None
        self._render: Callable[[], np.ndarray] | None = None
        self._closed = False
        self._waiting = 0
        self._served = -1
        self._encode_lock = threading.Lock()
        self._jpeg: tuple[int, bytes, tuple[int, int]] = (-1, b"", (0, 0))

    def put(self, index: int, size: tuple[int, int], render: Callable[[], np.ndarray]) -> None:
        """Make frame ``index`` (``size`` = (width, height)) the newest; wake waiting viewers."""
        with self._cond:
            self._index, self._size, self._render = index, size, render
            self._cond.notify_all()

    @property
    def latest(self) -> tuple[int, tuple[int, int] | None]:
        """(newest frame index, its (width, height)); (-1, None) before the first frame."""
        with self._cond:
            return self._index, self._size

    def next_after(self, after: int, timeout: float) -> tuple[int, bytes, tuple[int, int]] | None:
        """(index, JPEG bytes, (width, height)) of the newest frame once it is not ``after``.

        Indices only grow within a stream, so that is the next newer frame.

        None when ``timeout`` seconds pass without one. A frame is never queued:
        a slow viewer skips to the newest, which keeps its latency low.
        """
        with self._cond:
            if self._waiting >= MAX_WAITING:
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "too many viewers; close a tab")
            self._waiting += 1
            try:
                # != rather than >: a viewer still showing a frame of an earlier stream
                # (indices restarted lower) gets the new stream at once.
                ready = self._cond.wait_for(lambda: self._closed or self._index != after, timeout)
            finally:
                self._waiting -= 1
            if self._closed:
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "the preview has stopped")
            if not ready or self._render is None or self._size is None:
                return None
            index, size, render = self._index, self._size, self._render
        jpeg = self._encode(index, size, render)
        with self._cond:
            self._served = max(self._served, jpeg[0])
        return jpeg

    def _encode(
        self, index: int, size: tuple[int, int], render: Callable[[], np.ndarray]
    ) -> tuple[int, bytes, tuple[int, int]]:
        import cv2

        with self._encode_lock:
            if self._jpeg[0] != index:  # else another viewer has encoded it already
                bgr = cv2.cvtColor(np.ascontiguousarray(render()), cv2.COLOR_RGB2BGR)
                ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    raise RuntimeError(f"JPEG encoding of frame {index} failed")
                self._jpeg = (index, buffer.tobytes(), size)
            return self._jpeg

    def stats(self) -> dict[str, Any]:
        with self._cond:
            width, height = self._size or (0, 0)
            return {
                "frame_index": self._index,
                "served_index": self._served,
                "width": width,
                "height": height,
                "viewers": self._waiting,
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
