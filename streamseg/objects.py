"""The run's objects: one registry of ids, names, prompt history and status.

It is the only place that allocates object ids (never reusing one, so the Zarr
store's object columns only ever grow), and it is thread-safe. Prompts given when
the run starts are registered with ``register``; everything that arrives while the
stream runs (preview clicks and removals, gaze fixations) is a *request*: recorded
at once (so the preview lists a new object immediately, as pending) and queued, and
the session applies the queue between frames on its own thread (``apply``), so the
tracker never needs a lock and never sees a half-made change.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from streamseg.errors import UsageError
from streamseg.types import Prompt

log = logging.getLogger(__name__)

PENDING, REMOVED = "pending", "removed"


class TrackerLike(Protocol):
    """What the registry needs of a tracker (track/tracker.py, or a video model's)."""

    @property
    def objects(self) -> list[int]: ...

    def track(self, object_id: int) -> Any: ...

    def add_prompts(self, prompts: list[Prompt]) -> None: ...

    def remove_object(self, object_id: int) -> None: ...


@dataclass
class TrackedObject:
    """One object: its id, name, every prompt it was given (``Prompt.describe()`` plus
    "via": cli, prompts-file, preview, gaze) and its status (pending until the tracker
    has it, then the tracker's: tracking, hidden, lost...; removed)."""

    id: int
    name: str | None = None
    prompts: list[dict[str, Any]] = field(default_factory=list)
    status: str = PENDING

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "prompts": list(self.prompts)}


class ObjectRegistry:
    """Ids, names, prompt history and status of every object of one run. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[int, TrackedObject] = {}
        self._next_id = 1
        self._requests: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._closed = False

    # -- ids and records ------------------------------------------------------------

    def new_id(self) -> int:
        """A fresh id: above every id seen so far, removed ones included."""
        with self._lock:
            return self._allocate()

    def _allocate(self) -> int:
        object_id = self._next_id
        self._next_id += 1
        return object_id

    def _record(self, prompt: Prompt, via: str) -> None:
        """Add ``prompt`` to its object's history (creating the object); lock held."""
        obj = self._objects.get(prompt.object_id)
        if obj is None:
            obj = self._objects[prompt.object_id] = TrackedObject(prompt.object_id, prompt.name)
            self._next_id = max(self._next_id, prompt.object_id + 1)
        if prompt.name and not obj.name:
            obj.name = prompt.name
        obj.prompts.append({**prompt.describe(), "via": via})

    def register(self, prompts: list[Prompt], via: str) -> list[Prompt]:
        """Record prompts known before the run starts (their ids taken as given); returns them."""
        with self._lock:
            for prompt in prompts:
                self._record(prompt, via)
        return prompts

    # -- requests from other threads -------------------------------------------------

    def request_prompt(
        self,
        object_id: int | None,
        frame: int,
        points: np.ndarray,
        labels: np.ndarray,
        name: str | None = None,
        via: str = "preview",
    ) -> int:
        """Queue points for object ``object_id`` (None: a new object, whose id is returned).

        UsageError for an unknown or removed id, or once the run has ended.
        """
        with self._lock:
            if self._closed:
                raise UsageError("the stream has ended; no more prompts can be added")
            if object_id is None:
                object_id = self._allocate()
            elif object_id not in self._live_ids():
                raise UsageError(f"no object {object_id}; add a new object instead")
            prompt = Prompt(object_id, frame, points, labels, name=name)
            self._record(prompt, via)
            self._requests.put(("prompt", prompt))
        return object_id

    def request_removal(self, object_id: int, via: str = "preview") -> None:
        """Queue the removal of ``object_id``; UsageError if there is no such object."""
        with self._lock:
            if object_id not in self._live_ids():
                raise UsageError(f"no object {object_id} to remove")
            self._objects[object_id].status = REMOVED
            self._objects[object_id].prompts.append({"removed": True, "via": via})
            self._requests.put(("remove", object_id))

    def close(self) -> None:
        """The run has ended: later requests are refused."""
        with self._lock:
            self._closed = True

    # -- the session's side ----------------------------------------------------------

    def apply(self, tracker: TrackerLike, frame_index: int) -> None:
        """Hand the queued requests to ``tracker`` (on the pipeline's thread, between
        frames). A prompt for a frame already past applies to this frame."""
        while True:
            try:
                kind, value = self._requests.get_nowait()
            except queue.Empty:
                return
            if kind == "prompt":
                value.frame = max(value.frame, frame_index)
                tracker.add_prompts([_refined(tracker, value)])
            else:
                tracker.remove_object(value)

    def update_status(self, tracker: TrackerLike) -> None:
        """Copy each object's status from the tracker (after a frame)."""
        with self._lock:
            for object_id in tracker.objects:
                obj = self._objects.get(object_id)
                if obj is not None and obj.status != REMOVED:
                    obj.status = tracker.track(object_id).status

    # -- reading ---------------------------------------------------------------------

    def _live_ids(self) -> list[int]:
        return [i for i, o in self._objects.items() if o.status != REMOVED]

    def ids(self) -> list[int]:
        """Ids of the objects not removed, in id order."""
        with self._lock:
            return sorted(self._live_ids())

    def get(self, object_id: int) -> TrackedObject | None:
        with self._lock:
            return self._objects.get(object_id)

    def status(self, object_id: int) -> str:
        with self._lock:
            obj = self._objects.get(object_id)
            return obj.status if obj is not None else REMOVED

    def describe(self) -> dict[int, dict[str, Any]]:
        """id -> {"id", "name", "prompts"} for every object ever added (for the metadata)."""
        with self._lock:
            return {i: o.describe() for i, o in sorted(self._objects.items())}

    def listed(self) -> list[dict[str, Any]]:
        """The objects not removed, for the preview: id, name, status, pending."""
        with self._lock:
            return [
                {"id": o.id, "name": o.name, "status": o.status, "pending": o.status == PENDING}
                for i, o in sorted(self._objects.items())
                if o.status != REMOVED
            ]


def _refined(tracker: TrackerLike, prompt: Prompt) -> Prompt:
    """More points for a tracked object add to its carried points, not replace them."""
    if prompt.object_id not in tracker.objects or prompt.mask is not None:
        return prompt
    track = tracker.track(prompt.object_id)
    points = getattr(track, "points", None)
    if track.status == PENDING or points is None or not len(points):
        return prompt
    return Prompt(
        prompt.object_id,
        prompt.frame,
        np.concatenate([points, prompt.points]),
        np.concatenate([track.labels, prompt.labels]),
        box=prompt.box,
        name=prompt.name,
    )
