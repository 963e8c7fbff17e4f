"""COCO-style JSON export of a result: one image per frame, one annotation per frame and
present object, masks as compressed run-length encoding (RLE).

The file is what pycocotools (``COCO(path)``, ``mask.decode``) and annotation tools read:

  info: the source and engine; videos: [{id 1, name, width, height, fps}];
  images: one per frame, {id, video_id, file_name, width, height, frame_index, time, pts}
    (file_name: NNNNN.jpg by source frame index, the name the PNG export uses too; no
    image files are written, tools that need them get them by extracting the frames);
  annotations: {id, image_id, category_id, track_id, object_id, segmentation {size [H, W],
    counts}, area, bbox [x, y, w, h], iscrowd 0, score};
  categories: one per object, {id: object id, name}.

RLE follows COCO's mask API: the mask read in column-major (Fortran) order, run lengths
starting with a run of 0s, each count stored as the difference to the one two before it,
5 bits per character (pycocotools' ``rleToString``). Written without pycocotools.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import OutputError
from streamseg.results import open_masks

COCO_FILE = "annotations.json"


def rle_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE of a (H, W) bool mask: run lengths over the column-major
    pixels, the first a run of 0s (0 when the first pixel is set)."""
    flat = np.asarray(mask, bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat[0] else counts


def rle_string(counts: list[int]) -> str:
    """COCO's compressed RLE string of run lengths (pycocotools ``rleToString``)."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count  # as maskApi.c: deltas from i = 3
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas end at -1
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def mask_bbox(mask: np.ndarray) -> list[float]:
    """COCO bbox [x, y, width, height] of a non-empty (H, W) bool mask, in pixels."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return [float(xs[0]), float(ys[0]), float(xs[-1] - xs[0] + 1), float(ys[-1] - ys[0] + 1)]


def coco_document(
    out: str | Path, chunk: int = 16, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The COCO dictionary of result folder ``out`` (read chunk by chunk: memory holds
    one chunk of masks plus the encoded annotations).

    An object that is present on a frame but has an empty mask gets no annotation (COCO
    has no use for zero-area masks); absent objects get none either.
    """
    group = open_masks(out, storage_options)
    attrs = dict(group.attrs)
    t = int(attrs.get("frames_written", 0))
    objects = attrs.get("objects", [])
    source = attrs.get("source", {})
    categories = [
        {"id": int(o["id"]), "name": o.get("name") or f"object {o['id']}"} for o in objects
    ]
    doc: dict[str, Any] = {
        "info": {
            "description": f"streamseg masks of {source.get('uri', out)}",
            "version": attrs.get("streamseg_version"),
            "date_created": attrs.get("created"),
            "source": source,
            "engine": attrs.get("engine", {}),
            "complete": bool(attrs.get("complete")),
        },
        "licenses": [],
        "videos": [],
        "images": [],
        "annotations": [],
        "categories": categories,
    }
    if t == 0 or "masks" not in group:
        return doc
    masks = group["masks"]
    height, width = (int(v) for v in masks.shape[2:])
    doc["videos"] = [
        {
            "id": 1,
            "name": Path(str(source.get("uri", out))).stem,
            "width": width,
            "height": height,
            "fps": source.get("fps"),
        }
    ]
    frame_index = group["frame_index"][:t]
    pts, time = group["pts"][:t], group["time"][:t]
    present, scores = group["present"][:t], group["scores"][:t]
    ids = [int(o["id"]) for o in objects]
    for t0 in range(0, t, chunk):
        block = masks[t0 : min(t, t0 + chunk)]
        for i, frame_masks in enumerate(block):
            row = t0 + i
            image_id = row + 1  # COCO ids start at 1
            doc["images"].append(
                {
                    "id": image_id,
                    "video_id": 1,
                    "file_name": f"{int(frame_index[row]):05d}.jpg",
                    "width": width,
                    "height": height,
                    "frame_index": int(frame_index[row]),
                    "time": float(time[row]),
                    "pts": int(pts[row]),
                }
            )
            for k, object_id in enumerate(ids[: len(frame_masks)]):
                mask = frame_masks[k]
                area = int(mask.sum())
                if not present[row, k] or area == 0:
                    continue
                doc["annotations"].append(
                    {
                        "id": len(doc["annotations"]) + 1,
                        "image_id": image_id,
                        "category_id": object_id,
                        "track_id": object_id,
                        "object_id": object_id,
                        "segmentation": {
                            "size": [height, width],
                            "counts": rle_string(rle_counts(mask)),
                        },
                        "area": area,
                        "bbox": mask_bbox(mask),
                        "iscrowd": 0,
                        "score": float(scores[row, k]),
                    }
                )
    return doc


def export_coco(
    out: str | Path, dest: str | Path, storage_options: dict[str, Any] | None = None
) -> int:
    """Write ``dest/annotations.json`` (COCO, see the module docstring) for result folder
    ``out``; returns the number of annotations (frame, object masks) written.

    The file is written to a temporary name and renamed, so a reader never sees half a
    file; ``dest`` is created.
    """
    doc = coco_document(out, storage_options=storage_options)
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / COCO_FILE
        partial = target.with_name(target.name + ".partial")
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.replace(partial, target)
    except OSError as error:
        raise OutputError(
            f"cannot write {Path(dest) / COCO_FILE} ({error.strerror}); give a writable --dest"
        ) from error
    return len(doc["annotations"])
