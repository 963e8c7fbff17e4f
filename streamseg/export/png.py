"""``streamseg export OUT --format png``: DAVIS palette PNGs, one per frame (value = object id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import OutputError
from streamseg.results import open_masks, read_chunks


def export_png(
    out: str | Path,
    dest: str | Path,
    chunk: int = 16,
    storage_options: dict[str, Any] | None = None,
) -> int:
    """Write one DAVIS palette PNG per frame into ``dest``; returns the count.

    Pixel value = object id (ids over 255 are refused); where objects overlap, the
    later one wins. Files are named by source frame index: 00000.png, ...
    """
    from PIL import Image

    from streamseg.render.colours import PALETTE

    group = open_masks(out, storage_options)
    t = int(group.attrs.get("frames_written", 0))
    ids = [o["id"] for o in group.attrs.get("objects", [])]
    if any(i > 255 or i < 1 for i in ids):
        raise OutputError(f"object ids {ids} do not fit a palette PNG (1..255)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if t == 0:
        return 0
    masks, frame_index = group["masks"], read_chunks(group["frame_index"], slice(0, t), out)
    palette = PALETTE.reshape(-1).tolist()
    for t0 in range(0, t, chunk):
        block = read_chunks(masks, slice(t0, min(t, t0 + chunk)), out)
        for i, frame_masks in enumerate(block):
            labels = np.zeros(frame_masks.shape[1:], np.uint8)
            for k, object_id in enumerate(ids[: len(frame_masks)]):
                labels[frame_masks[k]] = object_id
            image = Image.frombytes("P", labels.shape[::-1], labels.tobytes())
            image.putpalette(palette)
            image.save(dest / f"{int(frame_index[t0 + i]):05d}.png")
    return t
