"""Aria Digital Twin (ADT) ground truth: instance-id maps, turned upright like the frames.

An ADT sequence folder holds ``video.vrs`` (the Aria recording), ``segmentations.vrs``
(one uint64 instance-id map per RGB frame, stream "400-1", aligned pixel for pixel
with the stored, sideways RGB image; 0 = no object) and ``instances.json`` (id ->
name, category, ...). Timestamps are device capture times in ns, on the clock of
the RGB frames (they differ from the frames' ``capture_timestamp_ns`` by ~0.1 ms,
so match them by nearest time).

Use: for each ``(t_ns, ids)`` from :func:`adt_instance_masks`, take the frame of
``AriaSource(video.vrs)`` nearest ``t_ns``, the instance under the gaze point
(:func:`instance_at`), and :func:`instance_iou` of streamseg's mask with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceError, SourceNotFoundError
from streamseg.geometry import normalize_degrees, rotate_image
from streamseg.sources.aria_vrs import find_image_stream, open_vrs

log = logging.getLogger(__name__)

RGB_SEGMENTATION_STREAM = "400-1"  # 400-2 and 400-3 are the SLAM cameras' maps (640x480)


def _segmentation_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "segmentations.vrs"
    if not path.is_file():
        raise SourceNotFoundError(
            f"no such file: {path}; give an ADT sequence folder or its segmentations.vrs"
        )
    return path


def adt_instance_masks(
    path: str | Path, rotate: int = 90, stream: str = RGB_SEGMENTATION_STREAM
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(timestamp_ns, ids)`` for every ground-truth frame, in time order.

    path: an ADT sequence folder or its ``segmentations.vrs``. ids: (H, W) uint64
    instance ids, turned ``rotate`` degrees clockwise (90: upright, matching
    ``AriaSource``'s "auto" for ADT's Gen1 RGB; 0: as stored). stream: "400-1"
    for the RGB camera.
    """
    degrees = normalize_degrees(rotate)
    file = _segmentation_file(path)
    provider = open_vrs(file)
    _, stream_id = find_image_stream(provider, stream, file)
    count = int(provider.get_num_data(stream_id))
    if not count:
        raise SourceError(f"{file}: the {stream} stream holds no segmentation frames")
    for i in range(count):
        image_data, record = provider.get_image_data_by_index(stream_id, i)
        if not image_data.is_valid():
            log.warning("%s: segmentation frame %d cannot be decoded; skipping it", file.name, i)
            continue
        ids = np.asarray(image_data.to_numpy_array())
        if ids.dtype != np.uint64:
            ids = ids.astype(np.uint64)
        yield int(record.capture_timestamp_ns), rotate_image(ids, degrees)


def adt_instances(path: str | Path) -> dict[int, dict[str, Any]]:
    """``instances.json`` of an ADT sequence (folder or file): {instance id: its record}."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".vrs":
        path = (path if path.is_dir() else path.parent) / "instances.json"
    if not path.is_file():
        raise SourceNotFoundError(f"no such file: {path}; give an ADT sequence folder")
    with open(path) as f:
        return {int(k): v for k, v in json.load(f).items()}


def instance_at(ids: np.ndarray, xy: np.ndarray | tuple[float, float]) -> int:
    """Instance id under ``xy`` (x, y pixels, rounded) in an (H, W) id map; 0 if outside."""
    x, y = (int(round(float(v))) for v in np.asarray(xy).reshape(2))
    h, w = ids.shape[:2]
    return int(ids[y, x]) if 0 <= x < w and 0 <= y < h else 0


def instance_iou(mask: np.ndarray, ids: np.ndarray, instance: int) -> float:
    """IoU of an (H, W) bool mask with the pixels of ``instance`` in the id map (NaN if id 0)."""
    if mask.shape != ids.shape[:2]:
        raise ValueError(f"instance_iou: mask is {mask.shape}, the id map {ids.shape[:2]}")
    if instance == 0:
        return float("nan")
    truth = ids == np.uint64(instance)
    union = np.logical_or(mask, truth).sum()
    return float(np.logical_and(mask, truth).sum() / union) if union else float("nan")
