"""The prompt bookkeeping every tracker shares: the objects in the order they were
first prompted, and the prompts waiting for their frame.

A tracker subclasses ``PromptedTracks``, gives ``_new_track`` (its own per-object
state, with ``name``) and may give ``_reprompted`` (what a prompt for a known object
changes); it applies ``self._pending`` when frames come.
"""

from __future__ import annotations

from typing import Any

from streamseg.errors import UsageError
from streamseg.types import Prompt


class PromptedTracks:
    """Objects by id (first-prompted order, never shrinks) and the queued prompts."""

    def __init__(self) -> None:
        self._tracks: dict[int, Any] = {}
        self._pending: list[Prompt] = []

    def _new_track(self, object_id: int, name: str | None) -> Any:
        raise NotImplementedError

    def _reprompted(self, track: Any) -> None:
        """A prompt came for a known object (nothing to do by default)."""

    @property
    def objects(self) -> list[int]:
        """Object ids, in the order they were first prompted (grows, never shrinks)."""
        return list(self._tracks)

    def track(self, object_id: int) -> Any:
        """The state of one object."""
        return self._tracks[object_id]

    def add_prompts(self, prompts: list[Prompt]) -> None:
        """Queue prompts; each applies at ``prompt.frame`` (or the next frame seen)."""
        for p in prompts:
            if not isinstance(p, Prompt):
                raise UsageError(f"add_prompts: expected Prompt objects, got {type(p).__name__}")
            track = self._tracks.get(p.object_id)
            if track is None:
                self._tracks[p.object_id] = self._new_track(p.object_id, p.name)
            else:
                if p.name:
                    track.name = p.name
                self._reprompted(track)
            self._pending.append(p)
