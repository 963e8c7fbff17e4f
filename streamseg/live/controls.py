"""Changing a running job from outside: prompts and removals from the live preview.

The preview's HTTP threads never touch the tracker: they queue requests on
``Controls``, which the pipeline applies between frames on its own thread.
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING, Any

import numpy as np

from streamseg.errors import UsageError
from streamseg.stats import RunStats
from streamseg.types import Prompt

if TYPE_CHECKING:
    from streamseg.track.tracker import Tracker

log = logging.getLogger(__name__)


class Controls:
    """Prompts and removals asked for while a stream runs (the preview), thread-safe.

    They are applied between frames, on the pipeline's own thread, so the tracker
    needs no locks. A prompt for a frame already past applies to the next frame.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.tracker: Tracker | None = None
        self.removed: set[int] = set()

    def status(self, object_id: int) -> str:
        """ "removed", or the tracker's status of the object ("pending" before it starts)."""
        if object_id in self.removed:
            return "removed"
        tracker = self.tracker
        return tracker.track(object_id).status if tracker is not None else "pending"

    def add_prompt(self, prompt: Prompt) -> None:
        self._queue.put(("prompt", prompt))

    def remove(self, object_id: int) -> None:
        tracker = self.tracker
        if tracker is None or object_id not in tracker.objects or object_id in self.removed:
            raise UsageError(f"no object {object_id} to remove")
        self.removed.add(object_id)
        self._queue.put(("remove", object_id))

    @staticmethod
    def _refine(tracker: Tracker, prompt: Prompt) -> Prompt:
        """More points for a tracked object add to its (flow-carried) points, not replace them."""
        if prompt.object_id not in tracker.objects or prompt.mask is not None:
            return prompt
        track = tracker.track(prompt.object_id)
        if track.status == "pending" or not len(track.points):
            return prompt
        return Prompt(
            prompt.object_id,
            prompt.frame,
            np.concatenate([track.points, prompt.points]),
            np.concatenate([track.labels, prompt.labels]),
            box=prompt.box,
            name=prompt.name,
        )

    def apply(self, tracker: Tracker, frame_index: int) -> None:
        while True:
            try:
                kind, value = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "prompt":
                value.frame = max(value.frame, frame_index)
                tracker.add_prompts([self._refine(tracker, value)])
            else:
                tracker.remove_object(value)


def start_preview(
    bind: str, controls: Controls, objects: dict[int, dict[str, Any]], stats: RunStats
) -> Any:
    """Serve the preview page; its clicks go through ``controls`` to the tracker."""
    from streamseg.live import PreviewServer, parse_bind
    from streamseg.render.overlay import object_colour

    def on_prompt(prompt: Prompt) -> None:
        objects.setdefault(prompt.object_id, {"name": prompt.name, "prompts": []})
        objects[prompt.object_id]["prompts"].append({**prompt.describe(), "via": "preview"})
        controls.add_prompt(prompt)

    def listed() -> list[dict[str, Any]]:
        tracker = controls.tracker
        ids = list(tracker.objects) if tracker is not None else list(objects)
        return [
            {
                "id": i,
                "name": objects.get(i, {}).get("name"),
                "status": controls.status(i),
                "colour": object_colour(k).tolist(),
            }
            for k, i in enumerate(ids)
        ]

    host, port = parse_bind(bind)
    server = PreviewServer(
        host,
        port,
        on_prompt=on_prompt,
        on_remove=controls.remove,
        status=stats.as_dict,
        objects=listed,
    )
    server.start()
    log.info("preview at %s", server.url)
    return server
