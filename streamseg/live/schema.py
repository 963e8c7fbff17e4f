"""Checking the JSON bodies the preview page sends, before anything reaches the pipeline.

Every check fails with ``UsageError`` (the server answers 400 with its message), so
a malformed request never becomes a Prompt. Limits keep one request cheap whatever
it holds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from streamseg.errors import UsageError

MAX_BODY = 16 * 1024  # bytes; a prompt with MAX_POINTS points is well under 2 KiB
MAX_POINTS = 64
MAX_NAME = 64
MAX_ID = 2**31 - 1  # ids end up in int32/int64 arrays and JSON; keep them plain
PROMPT_KEYS = {"frame", "object", "points", "labels", "name"}


@dataclass
class PromptRequest:
    """A checked ``POST /api/prompts`` body. object_id None = a new object."""

    frame: int
    object_id: int | None
    points: list[tuple[float, float]]
    labels: list[int]
    name: str | None


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity by default; they are not JSON and not pixels.
    raise ValueError(f"{name} is not allowed in JSON")


def parse_json(body: bytes) -> Any:
    """Decode a UTF-8 JSON body; UsageError if it is not strict JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UsageError(f"the body is not valid JSON ({error}); send one JSON object") from None


def _int(value: Any, what: str, low: int, high: int) -> int:
    # bool is an int subclass in Python, but true/false is not an index in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} must be an integer, got {json.dumps(value)[:40]}")
    if not low <= value <= high:
        raise UsageError(f"{what} must be in {low}..{high}, got {value}")
    return value


def _coordinate(value: Any, what: str, limit: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{what} must be a number, got {json.dumps(value)[:40]}")
    if not (math.isfinite(value) and 0 <= value < limit):
        raise UsageError(f"{what} = {value} is outside the frame; give 0 <= {what} < {limit}")
    return float(value)


def parse_prompt_request(
    data: Any, width: int, height: int, last_frame: int, known_ids: set[int]
) -> PromptRequest:
    """Check a decoded prompt body against the frame size and the objects known.

    data: {"frame": int, "object": int | null, "points": [[x, y], ...],
    "labels": [0 | 1, ...], "name": str (optional)}; points in source pixels of a
    width x height frame; frame in 0..last_frame (the newest frame published).
    """
    if not isinstance(data, dict):
        raise UsageError("the body must be a JSON object with frame, object, points, labels")
    unknown = set(data) - PROMPT_KEYS
    if unknown:
        raise UsageError(f"unknown keys {sorted(unknown)[:5]}; use {sorted(PROMPT_KEYS)}")
    missing = {"frame", "points", "labels"} - set(data)
    if missing:
        raise UsageError(f"missing keys {sorted(missing)}")
    frame = _int(data["frame"], "frame", 0, last_frame)
    object_id = data.get("object")
    if object_id is not None:
        object_id = _int(object_id, "object", 1, MAX_ID)
        if object_id not in known_ids:
            raise UsageError(f"no object {object_id}; GET /api/objects lists them")
    points, labels = data["points"], data["labels"]
    if not isinstance(points, list) or not isinstance(labels, list):
        raise UsageError("points must be a list of [x, y] and labels a list of 0/1")
    if not 1 <= len(points) <= MAX_POINTS:
        raise UsageError(f"give 1..{MAX_POINTS} points, got {len(points)}")
    if len(labels) != len(points):
        raise UsageError(f"{len(points)} points but {len(labels)} labels; one label per point")
    parsed: list[tuple[float, float]] = []
    for i, point in enumerate(points):
        if not isinstance(point, list) or len(point) != 2:
            raise UsageError(f"points[{i}] must be [x, y]")
        x = _coordinate(point[0], f"points[{i}] x", width)
        parsed.append((x, _coordinate(point[1], f"points[{i}] y", height)))
    checked = [_int(label, f"labels[{i}]", 0, 1) for i, label in enumerate(labels)]
    if object_id is None and not any(checked):
        raise UsageError("a new object needs at least one positive point (label 1)")
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and 0 < len(name) <= MAX_NAME):
        raise UsageError(f"name must be a string of 1..{MAX_NAME} characters")
    return PromptRequest(frame, object_id, parsed, checked, name)
