"""Reading a result folder back: summaries for ``streamseg info``, PNG export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import OutputError, SourceNotFoundError


def open_masks(out: str | Path, storage_options: dict[str, Any] | None = None) -> Any:
    """The masks.zarr group of a result folder (or of a .zarr path itself), read-only.

    out: a local path or an fsspec URL (s3://bucket/run); storage_options for its filesystem.
    """
    import zarr

    from streamseg.storage import is_url, location

    text = str(out).rstrip("/")
    loc = location(text if is_url(text) else Path(text), storage_options)
    if not text.endswith(".zarr"):
        loc = loc.child("masks.zarr")
    if not loc.child("zarr.json").exists():
        raise SourceNotFoundError(
            f"no masks.zarr at {loc}; give the folder `streamseg run` wrote (its --out)"
        )
    try:
        return zarr.open_group(store=loc.zarr_store(read_only=True), mode="r")
    except Exception as error:  # noqa: BLE001 - zarr raises several unrelated types
        raise OutputError(f"{loc} is not a readable Zarr store ({error})") from error


def read_chunks(array: Any, where: Any, out: str | Path) -> np.ndarray:
    """``array[where]``; a damaged chunk is one OutputError line, not a codec traceback."""
    try:
        return np.asarray(array[where])
    except Exception as error:  # noqa: BLE001 - zarr and its codecs raise many types
        raise OutputError(
            f"a chunk of {array.name.strip('/')} in {out} cannot be read "
            f"({type(error).__name__}: {str(error)[:120]}); the store is damaged"
        ) from error


def summary(
    out: str | Path, chunk: int = 64, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Source, frames, completeness and per-object coverage of a result.

    coverage: the share of frames where the object is present; area: its mean
    mask area as a share of the frame, over the frames where it is present.
    """
    group = open_masks(out, storage_options)
    attrs = dict(group.attrs)
    t = int(attrs.get("frames_written", 0))
    objects = attrs.get("objects", [])
    info: dict[str, Any] = {
        "path": str(out) if "://" in str(out) else str(Path(out)),
        "source": attrs.get("source", {}),
        "engine": attrs.get("engine", {}),
        "frames": t,
        "complete": bool(attrs.get("complete")),
        "objects": [],
    }
    if t == 0 or "masks" not in group:
        info["objects"] = [{**o, "coverage": 0.0, "area": 0.0} for o in objects]
        return info
    masks, present = group["masks"], read_chunks(group["present"], slice(0, t), out)
    h, w = masks.shape[2:]
    area = np.zeros(masks.shape[1])
    for t0 in range(0, t, chunk):  # chunk by chunk: memory stays flat for long videos
        area += read_chunks(masks, slice(t0, min(t, t0 + chunk)), out).sum(axis=(0, 2, 3))
    frames_present = present.sum(axis=0)
    for k, obj in enumerate(objects):
        seen = int(frames_present[k])
        info["objects"].append(
            {
                **obj,
                "frames_present": seen,
                "coverage": seen / t,
                "area": float(area[k] / max(seen, 1) / (h * w)),
            }
        )
    return info
