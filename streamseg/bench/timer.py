"""Seconds per pipeline stage, summed over calls, from any thread (the bench's observer)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any


class StageTimer:
    """Seconds per stage, summed over calls; safe to use from several threads.

    device: a CUDA torch.device, or None. With one, each ``stage`` block is also
    bracketed by CUDA events on the stream current at that point (the engine's side
    stream for preprocess and encode) without waiting for the GPU;
    ``gpu_seconds()`` waits once at the end and sums them per stage.
    """

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._events: list[tuple[str, Any, Any]] = []

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def get(self, name: str) -> float:
        with self._lock:
            return self.seconds.get(name, 0.0)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        begin = self._event()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)
            if begin is not None:
                with self._lock:
                    self._events.append((name, begin, self._event()))

    def sync(self) -> None:
        """Wait for the device's queued work (CUDA); nothing on the CPU."""
        if self.device is not None:
            import torch

            torch.cuda.synchronize(self.device)

    def gpu_seconds(self) -> dict[str, float]:
        """GPU seconds per stage from the CUDA events ({} without a device)."""
        if self.device is None:
            return {}
        self.sync()
        out: dict[str, float] = {}
        for name, begin, end in self._events:
            out[name] = out.get(name, 0.0) + begin.elapsed_time(end) / 1000
        return out

    def _event(self) -> Any:
        if self.device is None:
            return None
        import torch

        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event
