"""Prompts from the command line, PNG masks and prompts files, checked against the frame.

Command-line syntax (source pixel coordinates, one ``--prompt`` per object):
  ``--prompt "100,80"``                 a positive point
  ``--prompt "100,80 120,90 -300,40"``  two positive points and a negative one
  ``--prompt "100,80 50,40,220,200"``   a point and a box (x0,y0,x1,y1)
  ``--box 50,40,220,200``               an object given by its box alone
  ``--mask first.png``                  objects from a mask: each non-zero value is an
                                        object id (a 0/255 mask is object 1)
Prompts file (JSON or YAML): a list of entries, or ``{"prompts": [...]}``:
  ``{"object": 1, "frame": 0, "name": "dog", "points": [[x, y]], "negative": [[x, y]],
     "box": [x0, y0, x1, y1], "mask": "path.png"}``
An entry at a later frame re-prompts that object there, or adds a new one from there.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceNotFoundError, UsageError
from streamseg.types import Prompt

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 16_000_000  # a prompts file; masks go in PNG files beside it
MAX_ENTRIES = 100_000
MAX_DEPTH = 6  # {"prompts": [{"points": [[x, y]]}]} is 5 deep
MAX_OBJECT_ID = 2**31 - 1  # ids end up in int32/int64 arrays and JSON
MAX_FRAME = 2**40
PROMPT_HELP = (
    "expected points 'X,Y' separated by spaces (a leading '-' marks a negative "
    "point) and optionally a box 'X0,Y0,X1,Y1', e.g. --prompt \"100,80 -300,40\""
)


def parse_prompt(text: str, object_id: int) -> Prompt:
    """One ``--prompt`` value into a Prompt for ``object_id`` at frame 0."""
    points, labels, box = [], [], None
    for token in text.replace(";", " ").split():
        negative = token.startswith("-")
        try:
            body = token[1:] if token[:1] in "-+" else token
            if body[:1] in "-+":  # '+-100,100': one sign at most, before the point
                raise ValueError
            values = [float(v) for v in body.split(",")]
            if not all(math.isfinite(v) for v in values):
                raise ValueError
        except ValueError:
            raise UsageError(
                f"malformed --prompt {text!r}: {token!r} is not numbers; {PROMPT_HELP}"
            ) from None
        if len(values) == 2:
            points.append(values)
            labels.append(0 if negative else 1)
        elif len(values) == 4 and not negative and box is None:
            box = values
        else:
            raise UsageError(f"malformed --prompt {text!r} at {token!r}; {PROMPT_HELP}")
    if not points and box is None:
        raise UsageError(f"empty --prompt {text!r}; {PROMPT_HELP}")
    if points and not any(labels) and box is None:
        raise UsageError(
            f"--prompt {text!r} has only negative points; add a positive point on the object"
        )
    return Prompt(
        object_id,
        0,
        np.array(points, np.float32).reshape(-1, 2),
        np.array(labels),
        box=np.array(box, np.float32) if box is not None else None,
    )


def parse_box(text: str, object_id: int) -> Prompt:
    """One ``--box X0,Y0,X1,Y1`` value into a Prompt."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise UsageError(f"malformed --box {text!r}: expected X0,Y0,X1,Y1, e.g. 50,40,220,200")
    return Prompt(object_id, 0, box=np.array(box, np.float32))


def read_mask_png(path: str | Path) -> np.ndarray:
    """(H, W) uint8 label image from a PNG: palette indices or grey values; 0/255 -> 0/1."""
    from PIL import Image

    path = Path(path)
    if not path.exists():
        raise SourceNotFoundError(f"no such mask file: {path}; check the path")
    try:
        opened = Image.open(path)
        if opened.mode.startswith("I"):  # 16/32-bit labels: ids above 255 stay apart
            labels = np.array(opened).astype(np.int64)
        else:  # e.g. mode LA in DAVIS: keep the grey values
            image = opened if opened.mode in ("P", "L", "1") else opened.convert("L")
            labels = np.array(image, np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UsageError(f"cannot read the mask {path} ({error}); give a PNG") from error
    if labels.min() < 0 or labels.max() > MAX_OBJECT_ID:
        raise UsageError(f"the mask {path} holds values outside 0..{MAX_OBJECT_ID}")
    if set(np.unique(labels)) <= {0, 255}:
        labels = (labels > 0).astype(np.uint8)
    return labels


def masks_from_png(path: str | Path, frame: int = 0) -> list[Prompt]:
    """One Prompt per non-zero value of a label PNG (value = object id)."""
    labels = read_mask_png(path)
    ids = [int(v) for v in np.unique(labels) if v]
    if not ids:
        raise UsageError(f"the mask {path} is empty; it needs at least one non-zero pixel")
    return [Prompt(i, frame, mask=labels == i) for i in ids]


def load_prompts_file(path: str | Path) -> list[Prompt]:
    """Prompts from a JSON or YAML file (see the module docstring).

    Bounded, whatever the file holds: at most MAX_FILE_BYTES, MAX_ENTRIES entries,
    nesting MAX_DEPTH deep, and YAML without aliases (an alias bomb expands a few
    lines into gigabytes) or tags beyond plain data.
    """
    import yaml

    from streamseg.safe_yaml import load_plain_yaml

    path = Path(path)
    if not path.exists():
        raise SourceNotFoundError(f"no such prompts file: {path}; check the path")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UsageError(
            f"the prompts file {path} is {size / 1e6:.0f} MB; at most "
            f"{MAX_FILE_BYTES / 1e6:.0f} MB are read (give masks as PNG files, not inline)"
        )
    try:
        text = path.read_bytes().decode("utf-8")
        yaml_file = path.suffix.lower() in (".yaml", ".yml")
        data = load_plain_yaml(text, str(path)) if yaml_file else json.loads(text)
    except RecursionError:
        raise UsageError(f"{path} is nested too deeply; a prompts file is a flat list") from None
    except (ValueError, yaml.YAMLError) as error:
        raise UsageError(
            f"cannot parse {path} ({str(error).splitlines()[0][:200]}); fix the JSON/YAML syntax"
        ) from error
    if _depth(data) > MAX_DEPTH:
        raise UsageError(f"{path} is nested too deeply; a prompts file is a flat list")
    entries = data.get("prompts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f"{path}: expected a list of prompts (or {{'prompts': [...]}})")
    if len(entries) > MAX_ENTRIES:
        raise UsageError(f"{path} holds {len(entries)} prompts; at most {MAX_ENTRIES}")
    return [_entry(e, i, path) for i, e in enumerate(entries)]


def _depth(data: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deep lists and dicts nest in ``data``, counted up to ``limit`` (no recursion)."""
    deepest, level = 0, [data]
    while level and deepest < limit:
        deepest += 1
        nxt: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        level = [x for x in nxt if isinstance(x, list | dict)]
        if not level:
            break
    return deepest


def _entry(entry: Any, position: int, path: Path) -> Prompt:
    where = f"{path}, prompt {position + 1}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected an object with 'object', 'frame', 'points'...")
    unknown = set(entry) - {"object", "frame", "name", "points", "negative", "box", "mask"}
    if unknown:
        raise UsageError(
            f"{where}: unknown keys {sorted(unknown)}; use object, frame, name, "
            "points, negative, box, mask"
        )
    object_id, frame = entry.get("object", 1), entry.get("frame", 0)
    for what, value, high in (("object", object_id, MAX_OBJECT_ID), ("frame", frame, MAX_FRAME)):
        low = 1 if what == "object" else 0
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise UsageError(f"{where}: {what} {value!r} must be a whole number in {low}..{high}")
    name = entry.get("name")
    if name is not None and not (isinstance(name, str) and len(name) <= 200):
        raise UsageError(f"{where}: name must be a string of at most 200 characters")
    if "mask" in entry and not isinstance(entry["mask"], str):
        raise UsageError(f"{where}: mask {entry['mask']!r} must be a PNG file name")
    try:
        pos = np.array(entry.get("points", []), np.float32).reshape(-1, 2)
        neg = np.array(entry.get("negative", []), np.float32).reshape(-1, 2)
        box = np.array(entry["box"], np.float32).reshape(4) if "box" in entry else None
    except (TypeError, ValueError) as error:
        raise UsageError(
            f"{where}: {error}; points are [[x, y], ...], box is [x0, y0, x1, y1]"
        ) from error
    mask = None
    if "mask" in entry:
        labels = read_mask_png(path.parent / entry["mask"])
        mask = labels == (object_id if object_id in labels else 1)
    try:
        return Prompt(
            object_id,
            frame,
            np.concatenate([pos, neg]),
            np.array([1] * len(pos) + [0] * len(neg)),
            box=box,
            mask=mask,
            name=name,
        )
    except ValueError as error:
        raise UsageError(f"{where}: {error}") from error


def validate(prompts: list[Prompt], width: int, height: int, frames: int | None = None) -> None:
    """Raise UsageError for any prompt outside a width x height frame, before work starts;
    warn about prompts at frames past the end of a source of ``frames`` frames."""
    for p in prompts:
        what = f"the prompt for object {p.object_id} (frame {p.frame})"
        if p.frame < 0:
            raise UsageError(f"{what}: frame must be >= 0")
        if frames is not None and p.frame >= frames:
            log.warning(
                "%s: the source has about %d frames, so frame %d never comes; "
                "this prompt will not be used",
                what,
                frames,
                p.frame,
            )
        for x, y in p.points:
            if not (0 <= x < width and 0 <= y < height):
                raise UsageError(
                    f"{what}: point {x:g},{y:g} is outside the {width}x{height} "
                    f"frame; give x in 0..{width - 1} and y in 0..{height - 1}"
                )
        if p.box is not None:
            x0, y0, x1, y1 = p.box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise UsageError(
                    f"{what}: box {x0:g},{y0:g},{x1:g},{y1:g} is not inside the "
                    f"{width}x{height} frame with x0 < x1 and y0 < y1"
                )
        if p.mask is not None:
            if p.mask.shape != (height, width):
                raise UsageError(
                    f"{what}: the mask is {p.mask.shape[1]}x{p.mask.shape[0]}, the "
                    f"video is {width}x{height}; give a mask of the frame's size"
                )
            if not p.mask.any():
                raise UsageError(f"{what}: the mask is empty")
