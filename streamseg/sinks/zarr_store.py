"""The Zarr v3 mask store, written as frames arrive.

Layout (one group, ``OUT/masks.zarr``; T frames, N objects, H x W pixels):
  masks (T, N, H, W) bool, chunk (chunk_frames, 1, H, W), zstd-compressed;
  scores (T, N) float32; boxes (T, N, 4) float32; present (T, N) bool;
  frame_index (T,) int64; pts (T,) int64 (-1 when unknown); time (T,) float64 s;
  latency (T,) float32 s, from the frame's arrival to its result;
  with ``gaze``: gaze (T, 2) float32 x, y (NaN when invalid), gaze_valid (T,) bool;
  object (N,) int64: the object ids, in the order of the object axis.
Every array carries Zarr v3 ``dimension_names`` (``DIMS``: t, object, y, x, coord, xy),
so xarray opens the store with named dimensions and the ids as the object coordinate.
Frames are buffered and written a chunk at a time, and at least every
``flush_seconds`` (so a SIGKILL loses about a second of masks); after each write
the arrays are exactly ``frames_written`` long and the attributes say so, so a
reader (or a crash) always sees a valid store. A write that fails (a full disk)
shrinks the arrays back to ``frames_written`` before the error goes on.
``close(complete)`` writes the tail and sets ``complete``. N grows when an object
is added mid-stream; earlier frames read as absent for it.

The attributes summarise each object's prompts (how many, the frames, the first
few); the whole history is the attributes of the ``prompt_history`` group inside the
store (zarr writes them atomically; a file of another kind there would make zarr and
xarray warn that it is not part of the hierarchy).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.sinks.base import SinkBase
from streamseg.types import FrameResult

PER_FRAME = {  # name -> (dtype, trailing shape per object or None for per-frame)
    "scores": ("float32", ()),
    "boxes": ("float32", (4,)),
    "present": ("bool", ()),
}
TIMING = {"frame_index": "int64", "pts": "int64", "time": "float64", "latency": "float32"}
TIMING_CHUNK = 4096
# Zarr v3 dimension names, the same name for the same axis in every array.
DIMS = {
    "masks": ("t", "object", "y", "x"),
    "scores": ("t", "object"),
    "boxes": ("t", "object", "coord"),
    "present": ("t", "object"),
    **{name: ("t",) for name in TIMING},
    "gaze": ("t", "xy"),
    "gaze_valid": ("t",),
    "object": ("object",),
}
SUMMARY_PROMPTS = 4  # prompts per object kept in the attributes (all: the history group)
HISTORY = "prompt_history"  # the group whose attributes hold every object's prompts
SUMMARY_POINTS = 16  # points per prompt kept there
SUMMARY_OBJECTS = 64  # beyond this many objects, the attributes keep counts only


class ZarrSink(SinkBase):
    """Write FrameResults to ``path`` (created; must not exist): a local path, or a zarr
    store (streamseg.storage.Location.zarr_store(): an FsspecStore for s3://, gs://...).

    attrs: the metadata to store (source, engine, config...); ``objects`` is
    kept up to date from ``objects()`` (id -> {"id", "name", "prompts"}, the run's
    ObjectRegistry.describe) at each flush; ``stats`` (frames, drops, latency
    percentiles) is written from ``stats()`` at each flush.
    """

    def __init__(
        self,
        path: Path | Any,
        attrs: dict[str, Any],
        objects: Callable[[], dict[int, dict]] | None = None,
        chunk_frames: int = 16,
        stats: Callable[[], dict] | None = None,
        gaze: bool = False,
        flush_seconds: float = 1.0,
    ) -> None:
        import zarr

        local = isinstance(path, (str, Path))
        self.path = Path(path) if local else path
        store = str(self.path) if local else path
        self.group = zarr.open_group(store=store, mode="w-", zarr_format=3)
        self.attrs = dict(attrs)
        self.objects = objects or dict
        self.chunk_frames = chunk_frames
        self.flush_seconds = flush_seconds
        self.flushed = time.monotonic()
        self._history = ""  # the prompt history as last written
        self.stats = stats
        self.gaze = gaze
        self.buffer: list[FrameResult] = []
        self.frames_written = 0
        self.object_ids: list[int] = []
        self.arrays: dict[str, Any] = {}
        self._set_attrs(complete=False)

    def _create(self, height: int, width: int) -> None:
        g, ct = self.group, self.chunk_frames
        self.arrays["masks"] = g.create_array(
            "masks",
            shape=(0, 0, height, width),
            chunks=(ct, 1, height, width),
            dtype="bool",
            fill_value=False,
            dimension_names=DIMS["masks"],
        )
        self.arrays["object"] = g.create_array(
            "object",
            shape=(0,),
            chunks=(TIMING_CHUNK,),
            dtype="int64",
            fill_value=0,
            dimension_names=DIMS["object"],
        )
        for name, (dtype, tail) in PER_FRAME.items():
            self.arrays[name] = g.create_array(
                name,
                shape=(0, 0, *tail),
                chunks=(TIMING_CHUNK, 1, *tail),
                dtype=dtype,
                fill_value=0,
                dimension_names=DIMS[name],
            )
        for name, dtype in TIMING.items():
            self.arrays[name] = g.create_array(
                name,
                shape=(0,),
                chunks=(TIMING_CHUNK,),
                dtype=dtype,
                fill_value=0,
                dimension_names=DIMS[name],
            )
        if self.gaze:
            self.arrays["gaze"] = g.create_array(
                "gaze",
                shape=(0, 2),
                chunks=(TIMING_CHUNK, 2),
                dtype="float32",
                fill_value=0,
                dimension_names=DIMS["gaze"],
            )
            self.arrays["gaze_valid"] = g.create_array(
                "gaze_valid",
                shape=(0,),
                chunks=(TIMING_CHUNK,),
                dtype="bool",
                fill_value=False,
                dimension_names=DIMS["gaze_valid"],
            )

    def write(self, result: FrameResult) -> None:
        self.buffer.append(result)
        if len(self.buffer) >= self.chunk_frames:
            self._flush()
        else:
            self.tick()

    def tick(self) -> None:
        """Write what is buffered once it is ``flush_seconds`` old (ThreadedSink calls
        this while no frame comes, so slow frames are not held back either)."""
        if self.buffer and time.monotonic() - self.flushed >= self.flush_seconds:
            self._flush()

    def _flush(self) -> None:
        self.flushed = time.monotonic()
        if not self.buffer:
            return
        t0 = self.frames_written
        try:
            self._write_buffer()
        except BaseException:
            self._shrink_to(t0)  # the attributes stay true: arrays as long as frames_written
            raise

    def _shrink_to(self, frames: int) -> None:
        """After a failed write: every array back to ``frames`` long (best effort)."""
        for array in self.arrays.values():
            try:
                if array.shape[0] != frames:
                    array.resize((frames, *array.shape[1:]))
            except OSError:
                pass  # the disk refuses even that; frames_written still tells the truth

    def _write_buffer(self) -> None:
        first = self.buffer[0]
        if not self.arrays:
            self._create(*first.frame.image.shape[:2])
        for result in self.buffer:  # objects only ever get added, in order
            for object_id in result.object_ids[len(self.object_ids) :]:
                self.object_ids.append(object_id)
        t0, n = self.frames_written, len(self.object_ids)
        t1 = t0 + len(self.buffer)
        for name, array in self.arrays.items():
            per_object = name == "masks" or name in PER_FRAME
            if name == "object":
                shape: tuple[int, ...] = (n,)
            elif per_object:
                shape = (t1, n, *array.shape[2:])
            else:
                shape = (t1, *array.shape[1:])
            array.resize(shape)
        self.arrays["object"][:] = np.array(self.object_ids, np.int64)
        masks = self.arrays["masks"]
        h, w = masks.shape[2:]
        stacked = np.zeros((len(self.buffer), n, h, w), bool)
        per = {
            name: np.zeros((len(self.buffer), n, *tail), dtype)
            for name, (dtype, tail) in PER_FRAME.items()
        }
        for i, result in enumerate(self.buffer):
            k = len(result.object_ids)  # ids are a prefix of self.object_ids
            stacked[i, :k] = result.masks
            per["scores"][i, :k] = result.scores
            per["boxes"][i, :k] = result.boxes
            per["present"][i, :k] = result.present
        masks[t0:t1] = stacked
        for name, values in per.items():
            self.arrays[name][t0:t1] = values
        frames = [r.frame for r in self.buffer]
        self.arrays["frame_index"][t0:t1] = np.array([f.index for f in frames], np.int64)
        self.arrays["pts"][t0:t1] = np.array(
            [-1 if f.pts is None else f.pts for f in frames], np.int64
        )
        self.arrays["time"][t0:t1] = np.array([f.time for f in frames], np.float64)
        self.arrays["latency"][t0:t1] = np.array([r.latency for r in self.buffer], np.float32)
        if self.gaze:
            nan = np.full(2, np.nan, np.float32)
            gaze = [nan if f.gaze is None else f.gaze for f in frames]
            self.arrays["gaze"][t0:t1] = np.stack(gaze)
            self.arrays["gaze_valid"][t0:t1] = np.array([f.gaze is not None for f in frames])
        self.buffer.clear()
        self._set_attrs(complete=False, frames=t1)
        self.frames_written = t1

    def _set_attrs(self, complete: bool, frames: int | None = None) -> None:
        known = self.objects()
        self._write_history(known)
        detail = len(self.object_ids) <= SUMMARY_OBJECTS  # else counts only: attrs stay small
        objects = [_summary(known.get(i, {"id": i}), detail) for i in self.object_ids]
        stats = {"stats": self.stats()} if self.stats else {}
        self.group.attrs.put(
            {
                **self.attrs,
                **stats,
                "objects": objects,
                "frames_written": self.frames_written if frames is None else frames,
                "complete": complete,
            }
        )

    def _write_history(self, known: dict[int, dict]) -> None:
        """Every object's whole prompt history to the prompt_history group, when it changed."""
        history = [known[i] for i in sorted(known)]
        text = json.dumps(history)
        if text == self._history:
            return
        self.group.require_group(HISTORY).attrs.put({"objects": history})
        self._history = text

    def close(self, complete: bool) -> None:
        self._flush()
        self._set_attrs(complete=complete)


def _summary(described: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    """An object for the attributes: id, name, how many prompts at which frames, and
    (with ``detail``) the first few."""
    prompts = described.get("prompts", [])
    frames = [p["frame"] for p in prompts if "frame" in p]
    shown = []
    for prompt in prompts[:SUMMARY_PROMPTS] if detail else []:
        points = prompt.get("points")
        if isinstance(points, list) and len(points) > SUMMARY_POINTS:
            prompt = {
                **prompt,
                "points": points[:SUMMARY_POINTS],
                "labels": prompt.get("labels", [])[:SUMMARY_POINTS],
                "points_total": len(points),
            }
        shown.append(prompt)
    return {
        "id": described["id"],
        "name": described.get("name"),
        "prompt_count": len(prompts),
        "first_frame": min(frames, default=None),
        "last_frame": max(frames, default=None),
        "prompts": shown,
        "history": HISTORY,
    }
