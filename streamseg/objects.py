"""The run's objects: one registry of ids, names, prompt history and status.

It is the only place that allocates object ids (never reusing one, so the Zarr
store's object columns only ever grow), and it is thread-safe. Prompts given when
the run starts are registered with ``register``; everything that arrives while the
stream runs (preview clicks and removals, gaze fixations) is a *request*: recorded
at once (so the preview lists a new object immediately, as pending) and queued, and
the session applies the queue between frames on its own thread (``apply``), so the
tracker never needs a lock and never sees a half-made change.

Requests are bounded, whoever sends them: at most ``max_pending`` wait (``Busy``
beyond, the preview's 429), at most ``max_objects`` objects at once come from
requests (``TooMany``, 409), an object carries at most ``max_points`` points into
the tracker (the newest), each object's recorded history is capped, and ``apply``
merges what waits into one prompt per object, so a burst of clicks costs the frame
loop one prompt per object, not one per click.
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
MAX_HISTORY = 256  # prompts recorded per object; later ones are counted, not kept


class Busy(UsageError):
    """Too many requests are waiting for the frame loop; try again shortly."""


class TooMany(UsageError):
    """A limit on objects would be exceeded."""


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
    unrecorded: int = 0  # prompts past MAX_HISTORY

    def describe(self) -> dict[str, Any]:
        described = {"id": self.id, "name": self.name, "prompts": list(self.prompts)}
        if self.unrecorded:
            described["prompts_not_recorded"] = self.unrecorded
        return described


class ObjectRegistry:
    """Ids, names, prompt history and status of every object of one run. Thread-safe."""

    def __init__(
        self, max_pending: int = 64, max_objects: int | None = None, max_points: int | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._objects: dict[int, TrackedObject] = {}
        self._next_id = 1
        self._requests: queue.Queue[tuple[str, Any]] = queue.Queue(max_pending)
        self._closed = False
        self.max_objects, self.max_points = max_objects, max_points

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
        if len(obj.prompts) < MAX_HISTORY:
            obj.prompts.append({**prompt.describe(), "via": via})
        else:
            obj.unrecorded += 1

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

        UsageError for an unknown or removed id, or once the run has ended; TooMany
        past ``max_objects`` objects; Busy when ``max_pending`` requests wait already.
        """
        with self._lock:
            if self._closed:
                raise UsageError("the stream has ended; no more prompts can be added")
            if object_id is None:
                live = len(self._live_ids())
                if self.max_objects is not None and live >= self.max_objects:
                    raise TooMany(
                        f"{live} objects already (at most {self.max_objects}); remove one "
                        "first, or raise preview.max_objects"
                    )
            elif object_id not in self._live_ids():
                raise UsageError(f"no object {object_id}; add a new object instead")
            if self._requests.full():
                raise Busy(f"{self._requests.maxsize} requests are waiting; try again shortly")
            if object_id is None:
                object_id = self._allocate()
            prompt = Prompt(object_id, frame, points, labels, name=name)
            self._record(prompt, via)
            self._requests.put_nowait(("prompt", prompt))
        return object_id

    def request_removal(self, object_id: int, via: str = "preview") -> None:
        """Queue the removal of ``object_id``; UsageError if there is no such object."""
        with self._lock:
            if object_id not in self._live_ids():
                raise UsageError(f"no object {object_id} to remove")
            if self._requests.full():
                raise Busy(f"{self._requests.maxsize} requests are waiting; try again shortly")
            self._objects[object_id].status = REMOVED
            self._objects[object_id].prompts.append({"removed": True, "via": via})
            self._requests.put_nowait(("remove", object_id))

    def close(self) -> None:
        """The run has ended: later requests are refused."""
        with self._lock:
            self._closed = True

    # -- the session's side ----------------------------------------------------------

    def apply(self, tracker: TrackerLike, frame_index: int) -> None:
        """Hand the queued requests to ``tracker`` (on the pipeline's thread, between
        frames), merged into one prompt per object. A prompt for a frame already past
        applies to this frame."""
        merged: dict[int, Prompt] = {}  # in the order the objects were asked for
        for _ in range(self._requests.maxsize or 1 << 16):  # what waits now, no more
            try:
                kind, value = self._requests.get_nowait()
            except queue.Empty:
                break
            if kind == "prompt":
                value.frame = max(value.frame, frame_index)
                earlier = merged.get(value.object_id)
                merged[value.object_id] = value if earlier is None else _joined(earlier, value)
            else:
                merged.pop(value, None)
                for prompt in merged.values():  # prompts before the removal go first
                    tracker.add_prompts([self._capped(_refined(tracker, prompt))])
                merged.clear()
                tracker.remove_object(value)
        for prompt in merged.values():
            tracker.add_prompts([self._capped(_refined(tracker, prompt))])

    def _capped(self, prompt: Prompt) -> Prompt:
        """At most ``max_points`` points, the newest (the latest clicks say the most)."""
        limit = self.max_points
        if limit is None or len(prompt.points) <= limit:
            return prompt
        return Prompt(
            prompt.object_id,
            prompt.frame,
            prompt.points[-limit:],
            prompt.labels[-limit:],
            box=prompt.box,
            mask=prompt.mask,
            name=prompt.name,
        )

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


def _joined(first: Prompt, then: Prompt) -> Prompt:
    """Two prompts for one object waiting together: their points, the later box and name."""
    return Prompt(
        then.object_id,
        then.frame,
        np.concatenate([first.points, then.points]),
        np.concatenate([first.labels, then.labels]),
        box=then.box if then.box is not None else first.box,
        mask=then.mask if then.mask is not None else first.mask,
        name=then.name or first.name,
    )


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
