"""Reading a result folder back: summaries for ``streamseg info``, PNG export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import OutputError, SourceNotFoundError


def open_masks(out: str | Path) -> Any:
    """The masks.zarr group of a result folder (or of a .zarr path itself), read-only."""
    import zarr

    path = Path(out)
    if path.suffix != ".zarr":
        path = path / "masks.zarr"
    if not path.exists():
        raise SourceNotFoundError(
            f"no masks.zarr at {path}; give the folder `streamseg run` wrote (its --out)"
        )
    try:
        return zarr.open_group(store=str(path), mode="r")
    except Exception as error:  # noqa: BLE001 - zarr raises several unrelated types
        raise OutputError(f"{path} is not a readable Zarr store ({error})") from error


def _read(array: Any, where: Any, out: str | Path) -> np.ndarray:
    """``array[where]``; a damaged chunk is one OutputError line, not a codec traceback."""
    try:
        return np.asarray(array[where])
    except Exception as error:  # noqa: BLE001 - zarr and its codecs raise many types
        raise OutputError(
            f"a chunk of {array.name.strip('/')} in {out} cannot be read "
            f"({type(error).__name__}: {str(error)[:120]}); the store is damaged"
        ) from error


def summary(out: str | Path, chunk: int = 64) -> dict[str, Any]:
    """Source, frames, completeness and per-object coverage of a result.

    coverage: the share of frames where the object is present; area: its mean
    mask area as a share of the frame, over the frames where it is present.
    """
    group = open_masks(out)
    attrs = dict(group.attrs)
    t = int(attrs.get("frames_written", 0))
    objects = attrs.get("objects", [])
    info: dict[str, Any] = {
        "path": str(Path(out)),
        "source": attrs.get("source", {}),
        "engine": attrs.get("engine", {}),
        "frames": t,
        "complete": bool(attrs.get("complete")),
        "objects": [],
    }
    if t == 0 or "masks" not in group:
        info["objects"] = [{**o, "coverage": 0.0, "area": 0.0} for o in objects]
        return info
    masks, present = group["masks"], _read(group["present"], slice(0, t), out)
    h, w = masks.shape[2:]
    area = np.zeros(masks.shape[1])
    for t0 in range(0, t, chunk):  # chunk by chunk: memory stays flat for long videos
        area += _read(masks, slice(t0, min(t, t0 + chunk)), out).sum(axis=(0, 2, 3))
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


def export_png(out: str | Path, dest: str | Path, chunk: int = 16) -> int:
    """Write one DAVIS palette PNG per frame into ``dest``; returns the count.

    Pixel value = object id (ids over 255 are refused); where objects overlap, the
    later one wins. Files are named by source frame index: 00000.png, ...
    """
    from PIL import Image

    from streamseg.render.overlay import PALETTE

    group = open_masks(out)
    t = int(group.attrs.get("frames_written", 0))
    ids = [o["id"] for o in group.attrs.get("objects", [])]
    if any(i > 255 or i < 1 for i in ids):
        raise OutputError(f"object ids {ids} do not fit a palette PNG (1..255)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if t == 0:
        return 0
    masks, frame_index = group["masks"], _read(group["frame_index"], slice(0, t), out)
    palette = PALETTE.reshape(-1).tolist()
    for t0 in range(0, t, chunk):
        block = _read(masks, slice(t0, min(t, t0 + chunk)), out)
        for i, frame_masks in enumerate(block):
            labels = np.zeros(frame_masks.shape[1:], np.uint8)
            for k, object_id in enumerate(ids[: len(frame_masks)]):
                labels[frame_masks[k]] = object_id
            image = Image.frombytes("P", labels.shape[::-1], labels.tobytes())
            image.putpalette(palette)
            image.save(dest / f"{int(frame_index[t0 + i]):05d}.png")
    return t
