"""Pausing a run, and holding a file at its first frame until there is something to track.

``Playback`` is shared by the session (which waits between frames) and the preview
page (pause/play, and the first click). A live source never waits: a camera does
not stop because the page paused, so the session only pauses files and folders.
"""

from __future__ import annotations

import threading

from streamseg.errors import Interrupted

_POLL = 0.1  # seconds between looks at the stop flag while waiting


class Playback:
    """Paused or playing; thread-safe. ``wait(stop)`` returns once playing (or raises
    Interrupted when ``stop`` is set while it waits)."""

    def __init__(self, paused: bool = False) -> None:
        self._playing = threading.Event()
        if not paused:
            self._playing.set()
        self.reason = ""

    @property
    def paused(self) -> bool:
        return not self._playing.is_set()

    def pause(self, reason: str = "") -> None:
        """Pause; ``reason`` (shown on the page) says what the run waits for, if anything."""
        self.reason = reason
        self._playing.clear()

    def play(self) -> None:
        self.reason = ""
        self._playing.set()

    def wait(self, stop: threading.Event | None = None) -> None:
        while not self._playing.wait(_POLL):
            if stop is not None and stop.is_set():
                raise Interrupted
